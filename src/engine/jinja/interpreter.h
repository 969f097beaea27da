#pragma once
// Walks a parsed template and writes its output, with Jinja2's semantics as
// Hugging Face configures it (immutable sandbox, loop controls). One
// Interpreter serves one render: it holds that render's variables, output
// buffer and resource counters, so it is not thread-safe and is not reused;
// the syntax tree it walks is shared read-only and must outlive it.
//
// Every resource a hostile template could exhaust is bounded by Limits and
// reported as a Status: output size, string and list sizes, macro call
// depth, evaluation depth and the total number of steps (statements, loop
// iterations, calls).

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "engine/jinja/ast.h"
#include "engine/jinja/value.h"

namespace agentd::engine::jinja {

struct Limits {
  size_t max_output_bytes = size_t{16} << 20;  // the result, and any one string built on the way
  int max_call_depth = 48;                     // nested macro calls
  int max_eval_depth = 384;                    // nested statements + expressions + calls, all together
  uint64_t max_steps = 5'000'000;              // statements, loop iterations, calls and filter items
  size_t max_items = 1'000'000;                // elements in one list or range()
  uint32_t max_value_depth = 128;              // nesting of a value stored in a namespace
};

struct RenderOptions {
  Limits limits;
  // Seconds since the Unix epoch for strftime_now(); the wall clock when unset.
  std::optional<std::time_t> now;
};

class Interpreter {
 public:
  // `context` holds the template's variables (a dict); it is read, not kept.
  Interpreter(const Object& context, const RenderOptions& options);

  // Renders `body` and returns the text. Call once.
  StatusOr<std::string> render(const Body& body);

  // ---- used by filters, tests, methods and built-in functions ----
  const Limits& limits() const { return options_.limits; }
  const RenderOptions& options() const { return options_; }
  // Counts `n` units of work; fails once the step budget is spent.
  Status tick(uint64_t n = 1);
  // Fails if a string or list of `n` bytes/items would pass the limits.
  Status check_size(size_t bytes) const;
  Status check_items(size_t items) const;
  // Checks a value about to be stored in a namespace, the one place state
  // outlives a loop iteration: bounded nesting and no namespaces inside, so
  // no chain can grow without bound (and later recurse when destroyed).
  Status check_storable(const Value& v) const;
  // Calls a callable value (macro, built-in or bound method).
  StatusOr<Value> call(const Value& callee, CallArgs& args);
  // Jinja's obj.attr (attribute first, then item) and obj[key] (item first).
  StatusOr<Value> get_attribute(const Value& obj, std::string_view name);
  StatusOr<Value> get_item(const Value& obj, const Value& key);
  // The elements a for loop visits: list items, dict keys, characters.
  StatusOr<std::vector<Value>> iterate(const Value& v);
  // A filter or test by name, as `value | name(args)` / `value is name(args)`.
  StatusOr<Value> filter(std::string_view name, const Value& subject, CallArgs& args);
  StatusOr<bool> test(std::string_view name, const Value& subject, CallArgs& args);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  struct Scope {
    std::unordered_map<std::string, Value> vars;
    Scope* parent = nullptr;
  };
  struct DepthGuard {
    explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
    ~DepthGuard() { --depth_; }
    int& depth_;
  };

  StatusOr<Flow> exec(const Body& body);
  StatusOr<Flow> exec_stmt(const Stmt& s);
  StatusOr<Flow> exec_for(const Stmt& s);
  Status exec_set(const Stmt& s);
  StatusOr<std::string> capture(const Body& body);
  Status emit(std::string_view text);

  StatusOr<Value> eval(const Expr& e);
  StatusOr<Value> eval_binary(const Expr& e);
  StatusOr<Value> eval_compare(const Expr& e);
  StatusOr<Value> eval_slice(const Expr& e);
  StatusOr<Value> eval_filter(const Expr& e, const Value* block_subject);
  Status eval_args(const Arguments& args, CallArgs& out);

  StatusOr<Value> call_macro(const Stmt& macro, Scope* closure, CallArgs& args);
  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);

  // Prefixes the first error of a render with its line and column; errors
  // from raise_exception() keep the template's own message.
  Status error_at(const Expr& e, const Status& s) const;
  Status error_at(const Stmt& s, const Status& st) const;
  Status locate(const Status& s, int line, int column) const;

  RenderOptions options_;
  Scope builtins_;
  Scope root_;
  Scope* scope_ = &root_;
  std::string* out_ = nullptr;
  size_t total_output_ = 0;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  int eval_depth_ = 0;
  bool raised_ = false;
  mutable bool error_located_ = false;
};

}  // namespace agentd::engine::jinja
