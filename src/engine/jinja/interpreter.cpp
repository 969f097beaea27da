#include "engine/jinja/interpreter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "engine/jinja/builtins.h"
#include "engine/jinja/filters.h"
#include "engine/jinja/methods.h"
#include "engine/jinja/operators.h"
#include "engine/jinja/predicates.h"
#include "engine/jinja/utf8.h"

namespace agentd::engine::jinja {

Interpreter::Interpreter(const Object& context, const RenderOptions& options) : options_(options) {
  add_builtins(builtins_.vars);
  root_.parent = &builtins_;
  for (const auto& [k, v] : context.entries()) {
    if (k.is_string()) root_.vars[k.as_string()] = v;
  }
}

StatusOr<std::string> Interpreter::render(const Body& body) {
  std::string out;
  out_ = &out;
  auto flow = exec(body);
  out_ = nullptr;
  if (!flow.is_ok()) return flow.status();
  return out;
}

Status Interpreter::tick(uint64_t n) {
  steps_ += n;
  if (steps_ > options_.limits.max_steps) {
    return Status::invalid_argument(std::string("template exceeded its step limit (") + std::to_string(options_.limits.max_steps) +
                                    " statements, loop iterations and calls)");
  }
  return Status::ok();
}

Status Interpreter::check_size(size_t bytes) const {
  if (bytes > options_.limits.max_output_bytes) {
    return Status::invalid_argument("template built a string larger than the output limit (" +
                                    std::to_string(options_.limits.max_output_bytes) + " bytes)");
  }
  return Status::ok();
}

Status Interpreter::check_items(size_t items) const {
  if (items > options_.limits.max_items) {
    return Status::invalid_argument("template built a list longer than the limit (" +
                                    std::to_string(options_.limits.max_items) + " items)");
  }
  return Status::ok();
}

Status Interpreter::check_storable(const Value& v) const {
  const Shape shape = v.shape();
  if (shape.holds_namespace) return Status::invalid_argument("a namespace cannot hold another namespace");
  if (shape.depth > options_.limits.max_value_depth) {
    return Status::invalid_argument(std::string("value nested deeper than the limit of ") +
                                    std::to_string(options_.limits.max_value_depth) + " levels");
  }
  return Status::ok();
}

Status Interpreter::emit(std::string_view text) {
  total_output_ += text.size();
  // Counts everything written, including macro and {% set %} captures, so the
  // work is bounded even when captured text is thrown away.
  if (total_output_ > options_.limits.max_output_bytes * 4 || out_->size() + text.size() > options_.limits.max_output_bytes) {
    return Status::invalid_argument("template output exceeds the limit of " +
                                    std::to_string(options_.limits.max_output_bytes) + " bytes");
  }
  out_->append(text);
  return Status::ok();
}

Status Interpreter::error_at(const Expr& e, const Status& s) const { return locate(s, e.line, e.column); }
Status Interpreter::error_at(const Stmt& st, const Status& s) const { return locate(s, st.line, st.column); }

Status Interpreter::locate(const Status& s, int line, int column) const {
  if (error_located_ || raised_) return s;
  error_located_ = true;
  return Status(s.code(), std::string("template error at line ") + std::to_string(line) + std::string(", column ") + std::to_string(column) +
                              std::string(": ") + s.message());
}

Value Interpreter::lookup(const std::string& name) const {
  for (const Scope* s = scope_; s; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined(std::string("'") + name + "' is undefined");
}

void Interpreter::assign(const std::string& name, Value v) { scope_->vars[name] = std::move(v); }

// ---- statements -------------------------------------------------------------

StatusOr<Interpreter::Flow> Interpreter::exec(const Body& body) {
  for (const StmtPtr& s : body) {
    AGENTD_ASSIGN_OR_RETURN(Flow flow, exec_stmt(*s));
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

StatusOr<std::string> Interpreter::capture(const Body& body) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  auto flow = exec(body);
  out_ = saved;
  if (!flow.is_ok()) return flow.status();
  return buffer;
}

StatusOr<Interpreter::Flow> Interpreter::exec_stmt(const Stmt& s) {
  DepthGuard guard(eval_depth_);
  if (eval_depth_ > options_.limits.max_eval_depth) {
    return error_at(s, Status::invalid_argument("template nesting exceeds the evaluation depth limit"));
  }
  if (auto st = tick(); !st.is_ok()) return error_at(s, st);
  switch (s.kind) {
    case StmtKind::kText:
      AGENTD_RETURN_IF_ERROR(emit(s.text));
      return Flow::kNormal;
    case StmtKind::kOutput: {
      AGENTD_ASSIGN_OR_RETURN(Value v, eval(*s.expr));
      if (v.is_string()) {
        AGENTD_RETURN_IF_ERROR(emit(v.as_string()));
      } else {
        AGENTD_RETURN_IF_ERROR(emit(v.to_str(options_.limits.max_output_bytes + 1)));
      }
      return Flow::kNormal;
    }
    case StmtKind::kIf:
      for (const auto& [cond, body] : s.branches) {
        AGENTD_ASSIGN_OR_RETURN(Value c, eval(*cond));
        if (c.truthy()) return exec(body);
      }
      return exec(s.else_body);
    case StmtKind::kFor: return exec_for(s);
    case StmtKind::kSet:
      AGENTD_RETURN_IF_ERROR(exec_set(s));
      return Flow::kNormal;
    case StmtKind::kSetBlock: {
      AGENTD_ASSIGN_OR_RETURN(std::string text, capture(s.body));
      Value v(std::move(text));
      if (s.filter) {
        AGENTD_ASSIGN_OR_RETURN(v, eval_filter(*s.filter, &v));
      }
      assign(s.targets[0], std::move(v));
      return Flow::kNormal;
    }
    case StmtKind::kMacro: {
      const Stmt* macro = &s;
      // A macro sees the template's variables as they are when it is called;
      // one defined inside a loop or {% with %} also closes over the
      // variables of that block as they are now (a snapshot, since the block's
      // scope ends before a macro stored in a namespace could be called).
      std::shared_ptr<Scope> closure;
      if (scope_ != &root_) {
        closure = std::make_shared<Scope>();
        closure->parent = &root_;
        for (Scope* sc = scope_; sc && sc != &root_; sc = sc->parent) {
          for (const auto& [k, v] : sc->vars) closure->vars.emplace(k, v);
        }
      }
      assign(s.name, Value::callable(s.name, [macro, closure](Interpreter& in, CallArgs& args) {
               return in.call_macro(*macro, closure.get(), args);
             }));
      return Flow::kNormal;
    }
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
    case StmtKind::kFilterBlock: {
      AGENTD_ASSIGN_OR_RETURN(std::string text, capture(s.body));
      Value v(std::move(text));
      AGENTD_ASSIGN_OR_RETURN(v, eval_filter(*s.filter, &v));
      AGENTD_RETURN_IF_ERROR(emit(v.to_str()));
      return Flow::kNormal;
    }
    case StmtKind::kWith: {
      Scope inner;
      inner.parent = scope_;
      for (const auto& [name, expr] : s.params) {
        AGENTD_ASSIGN_OR_RETURN(Value v, eval(*expr));
        inner.vars[name] = std::move(v);
      }
      Scope* saved = scope_;
      scope_ = &inner;
      auto flow = exec(s.body);
      scope_ = saved;
      return flow;
    }
    case StmtKind::kDo: {
      AGENTD_ASSIGN_OR_RETURN(Value ignored, eval(*s.expr));
      (void)ignored;
      return Flow::kNormal;
    }
    case StmtKind::kScope: return exec(s.body);
  }
  return Flow::kNormal;
}

Status Interpreter::exec_set(const Stmt& s) {
  AGENTD_ASSIGN_OR_RETURN(Value v, eval(*s.expr));
  if (!s.attribute.empty()) {
    Value target = lookup(s.targets[0]);
    if (!target.is_namespace()) {
      return error_at(s, Status::invalid_argument("cannot assign attribute on non-namespace object"));
    }
    if (auto st = check_storable(v); !st.is_ok()) return error_at(s, st);
    target.as_namespace().set(Value(s.attribute), std::move(v));
    return Status::ok();
  }
  if (s.targets.size() == 1) {
    assign(s.targets[0], std::move(v));
    return Status::ok();
  }
  AGENTD_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.size() != s.targets.size()) {
    return error_at(s, Status::invalid_argument(std::string("cannot unpack ") + std::to_string(items.size()) + " values into " +
                                                std::to_string(s.targets.size()) + " names"));
  }
  for (size_t i = 0; i < items.size(); ++i) assign(s.targets[i], std::move(items[i]));
  return Status::ok();
}

StatusOr<Interpreter::Flow> Interpreter::exec_for(const Stmt& s) {
  AGENTD_ASSIGN_OR_RETURN(Value iterable, eval(*s.expr));
  auto listed = iterate(iterable);
  if (!listed.is_ok()) return error_at(*s.expr, listed.status());
  std::vector<Value> items = std::move(listed).value();

  Scope* saved = scope_;
  auto bind_targets = [&](Scope& scope, const Value& item) -> Status {
    if (s.targets.size() == 1) {
      scope.vars[s.targets[0]] = item;
      return Status::ok();
    }
    AGENTD_ASSIGN_OR_RETURN(std::vector<Value> parts, iterate(item));
    if (parts.size() != s.targets.size()) {
      return error_at(s, Status::invalid_argument(std::string("cannot unpack ") + std::to_string(parts.size()) +
                                                  std::string(" values into ") + std::to_string(s.targets.size()) + " loop names"));
    }
    for (size_t i = 0; i < parts.size(); ++i) scope.vars[s.targets[i]] = std::move(parts[i]);
    return Status::ok();
  };

  if (s.filter) {
    // `for x in xs if cond`: Jinja filters first, so loop.length and
    // loop.last count only the items that pass.
    std::vector<Value> kept;
    for (const Value& item : items) {
      AGENTD_RETURN_IF_ERROR(tick());
      Scope probe;
      probe.parent = saved;
      AGENTD_RETURN_IF_ERROR(bind_targets(probe, item));
      scope_ = &probe;
      auto cond = eval(*s.filter);
      scope_ = saved;
      if (!cond.is_ok()) return cond.status();
      if (cond->truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }

  if (items.empty()) return exec(s.else_body);
  const auto length = static_cast<int64_t>(items.size());
  // One loop object per loop, updated in place as Jinja's LoopContext is.
  auto loop = std::make_shared<Object>();
  for (const char* key : {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0",
                          "previtem", "nextitem", "cycle"}) {
    loop->set(Value(key), Value());
  }
  std::weak_ptr<Object> weak_loop = loop;
  loop->set(Value("cycle"), Value::callable("cycle", [weak_loop](Interpreter&, CallArgs& args) -> StatusOr<Value> {
              auto self = weak_loop.lock();
              if (!self || args.positional.empty()) return Status::invalid_argument("no items for cycling given");
              const Value* index0 = self->find(std::string_view("index0"));
              const auto i = static_cast<size_t>(index0 && index0->is_int() ? index0->as_int() : 0);
              return args.positional[i % args.positional.size()];
            }));
  loop->set(Value("length"), Value(length));
  loop->set(Value("depth"), Value(1));
  loop->set(Value("depth0"), Value(0));
  Scope iteration;
  iteration.parent = saved;
  for (int64_t i = 0; i < length; ++i) {
    AGENTD_RETURN_IF_ERROR(tick());
    iteration.vars.clear();
    AGENTD_RETURN_IF_ERROR(bind_targets(iteration, items[static_cast<size_t>(i)]));
    loop->set(Value("index"), Value(i + 1));
    loop->set(Value("index0"), Value(i));
    loop->set(Value("revindex"), Value(length - i));
    loop->set(Value("revindex0"), Value(length - i - 1));
    loop->set(Value("first"), Value(i == 0));
    loop->set(Value("last"), Value(i == length - 1));
    loop->set(Value("previtem"), i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    loop->set(Value("nextitem"), i + 1 < length ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    iteration.vars["loop"] = Value(NamespacePtr(loop));
    scope_ = &iteration;
    auto flow = exec(s.body);
    scope_ = saved;
    if (!flow.is_ok()) return flow.status();
    if (*flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

StatusOr<Value> Interpreter::call_macro(const Stmt& macro, Scope* closure, CallArgs& args) {
  DepthGuard guard(call_depth_);
  if (call_depth_ > options_.limits.max_call_depth) {
    return Status::invalid_argument(std::string("macro calls nested deeper than ") + std::to_string(options_.limits.max_call_depth) +
                                    std::string(" (unbounded recursion in '") + macro.name + "'?)");
  }
  Scope frame;
  frame.parent = closure ? closure : &root_;  // never the caller's locals
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < macro.params.size()) {
      frame.vars[macro.params[i].first] = std::move(args.positional[i]);
    } else {
      varargs.push_back(std::move(args.positional[i]));
    }
  }
  Object kwargs;
  for (auto& [key, value] : args.keyword) {
    bool is_param = false;
    for (const auto& param : macro.params) is_param |= param.first == key;
    if (is_param) {
      frame.vars[key] = std::move(value);
    } else {
      kwargs.set(Value(key), std::move(value));
    }
  }
  Scope* saved = scope_;
  scope_ = &frame;
  for (const auto& [name, def] : macro.params) {
    if (frame.vars.count(name)) continue;
    if (def) {
      auto v = eval(*def);
      if (!v.is_ok()) {
        scope_ = saved;
        return v.status();
      }
      frame.vars[name] = std::move(v).value();
    } else {
      frame.vars[name] = Value::undefined(std::string("parameter '") + name + "' was not provided");
    }
  }
  frame.vars["varargs"] = Value::tuple(std::move(varargs));
  frame.vars["kwargs"] = Value::dict(std::move(kwargs));
  auto text = capture(macro.body);
  scope_ = saved;
  if (!text.is_ok()) return text.status();
  return Value(std::move(text).value());
}

// ---- expressions ------------------------------------------------------------

Status Interpreter::eval_args(const Arguments& args, CallArgs& out) {
  for (const ExprPtr& a : args.positional) {
    AGENTD_ASSIGN_OR_RETURN(Value v, eval(*a));
    out.positional.push_back(std::move(v));
  }
  for (const auto& [name, a] : args.keyword) {
    AGENTD_ASSIGN_OR_RETURN(Value v, eval(*a));
    out.keyword.emplace_back(name, std::move(v));
  }
  return Status::ok();
}

StatusOr<Value> Interpreter::eval(const Expr& e) {
  DepthGuard guard(eval_depth_);
  if (eval_depth_ > options_.limits.max_eval_depth) {
    return error_at(e, Status::invalid_argument("template nesting exceeds the evaluation depth limit"));
  }
  switch (e.kind) {
    case ExprKind::kLiteral: return e.literal;
    case ExprKind::kName: return lookup(e.name);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const ExprPtr& item : e.items) {
        AGENTD_ASSIGN_OR_RETURN(Value v, eval(*item));
        items.push_back(std::move(v));
      }
      return e.kind == ExprKind::kList ? Value::list(std::move(items)) : Value::tuple(std::move(items));
    }
    case ExprKind::kDict: {
      Object o;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        AGENTD_ASSIGN_OR_RETURN(Value k, eval(*e.items[i]));
        AGENTD_ASSIGN_OR_RETURN(Value v, eval(*e.items[i + 1]));
        if (k.is_array() && !k.as_array().is_tuple) return error_at(e, Status::invalid_argument("unhashable type: 'list'"));
        if (k.is_object() || k.is_undefined()) {
          return error_at(e, Status::invalid_argument(std::string("unhashable type: '") + k.type_name() + "'"));
        }
        o.set(std::move(k), std::move(v));
      }
      return Value::dict(std::move(o));
    }
    case ExprKind::kAttribute: {
      AGENTD_ASSIGN_OR_RETURN(Value obj, eval(*e.items[0]));
      auto v = get_attribute(obj, e.name);
      if (!v.is_ok()) return error_at(e, v.status());
      return v;
    }
    case ExprKind::kItem: {
      AGENTD_ASSIGN_OR_RETURN(Value obj, eval(*e.items[0]));
      AGENTD_ASSIGN_OR_RETURN(Value key, eval(*e.items[1]));
      auto v = get_item(obj, key);
      if (!v.is_ok()) return error_at(e, v.status());
      return v;
    }
    case ExprKind::kSlice: return eval_slice(e);
    case ExprKind::kCall: {
      AGENTD_ASSIGN_OR_RETURN(Value callee, eval(*e.items[0]));
      CallArgs args;
      AGENTD_RETURN_IF_ERROR(eval_args(e.args, args));
      auto v = call(callee, args);
      if (!v.is_ok()) return error_at(e, v.status());
      return v;
    }
    case ExprKind::kFilter: return eval_filter(e, nullptr);
    case ExprKind::kTest: {
      AGENTD_ASSIGN_OR_RETURN(Value subject, eval(*e.items[0]));
      CallArgs args;
      AGENTD_RETURN_IF_ERROR(eval_args(e.args, args));
      auto r = test(e.name, subject, args);
      if (!r.is_ok()) return error_at(e, r.status());
      return Value(*r != e.negated);
    }
    case ExprKind::kNot: {
      AGENTD_ASSIGN_OR_RETURN(Value v, eval(*e.items[0]));
      return Value(!v.truthy());
    }
    case ExprKind::kNegate:
    case ExprKind::kPlus: {
      AGENTD_ASSIGN_OR_RETURN(Value v, eval(*e.items[0]));
      if (v.is_bool()) v = Value(int64_t{v.as_bool() ? 1 : 0});
      if (e.kind == ExprKind::kPlus && (v.is_int() || v.is_float())) return v;
      if (v.is_int()) {
        if (v.as_int() == std::numeric_limits<int64_t>::min()) {
          return error_at(e, Status::invalid_argument("integer overflow"));
        }
        return Value(-v.as_int());
      }
      if (v.is_float()) return Value(-v.as_float());
      return error_at(e, Status::invalid_argument("bad operand type for unary " +
                                                  std::string(e.kind == ExprKind::kNegate ? "-" : "+") + ": '" +
                                                  v.type_name() + "'"));
    }
    case ExprKind::kBinary: return eval_binary(e);
    case ExprKind::kAnd: {
      AGENTD_ASSIGN_OR_RETURN(Value a, eval(*e.items[0]));
      if (!a.truthy()) return a;
      return eval(*e.items[1]);
    }
    case ExprKind::kOr: {
      AGENTD_ASSIGN_OR_RETURN(Value a, eval(*e.items[0]));
      if (a.truthy()) return a;
      return eval(*e.items[1]);
    }
    case ExprKind::kCompare: return eval_compare(e);
    case ExprKind::kCondition: {
      AGENTD_ASSIGN_OR_RETURN(Value c, eval(*e.items[0]));
      if (c.truthy()) return eval(*e.items[1]);
      if (e.items[2]) return eval(*e.items[2]);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    }
  }
  return Value();
}

StatusOr<Value> Interpreter::eval_binary(const Expr& e) {
  AGENTD_ASSIGN_OR_RETURN(Value a, eval(*e.items[0]));
  AGENTD_ASSIGN_OR_RETURN(Value b, eval(*e.items[1]));
  auto v = binary_operator(*this, e.name, a, b);
  if (!v.is_ok()) return error_at(e, v.status());
  return v;
}

StatusOr<Value> Interpreter::eval_compare(const Expr& e) {
  AGENTD_ASSIGN_OR_RETURN(Value left, eval(*e.items[0]));
  for (size_t i = 0; i < e.ops.size(); ++i) {
    AGENTD_ASSIGN_OR_RETURN(Value right, eval(*e.items[i + 1]));
    const std::string& op = e.ops[i];
    bool result = false;
    if (op == "==") {
      result = left == right;
    } else if (op == "!=") {
      result = !(left == right);
    } else if (op == "in" || op == "notin") {
      auto r = contains(right, left);
      if (!r.is_ok()) return error_at(e, r.status());
      result = *r == (op == "in");
    } else {
      StatusOr<bool> r = false;
      if (op == "<") r = less_than(left, right);
      if (op == ">") r = less_than(right, left);
      if (op == "<=") {
        r = less_than(right, left);
        if (r.is_ok()) r = !*r;
      }
      if (op == ">=") {
        r = less_than(left, right);
        if (r.is_ok()) r = !*r;
      }
      if (!r.is_ok()) return error_at(e, r.status());
      result = *r;
    }
    if (!result) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

namespace {
// Python slice bounds for a sequence of length n.
struct SliceBounds {
  int64_t start, stop, step;
};
StatusOr<SliceBounds> slice_bounds(const Value& start, const Value& stop, const Value& step, int64_t n) {
  auto as_index = [](const Value& v, const char* what) -> StatusOr<std::optional<int64_t>> {
    if (v.is_undefined() || v.is_none()) return std::optional<int64_t>();
    if (v.is_int()) return std::optional<int64_t>(v.as_int());
    if (v.is_bool()) return std::optional<int64_t>(v.as_bool() ? 1 : 0);
    return Status::invalid_argument(std::string("slice ") + what + " must be an integer or None");
  };
  AGENTD_ASSIGN_OR_RETURN(auto st, as_index(step, "step"));
  const int64_t s = st.value_or(1);
  if (s == 0) return Status::invalid_argument("slice step cannot be zero");
  AGENTD_ASSIGN_OR_RETURN(auto a, as_index(start, "start"));
  AGENTD_ASSIGN_OR_RETURN(auto b, as_index(stop, "stop"));
  auto clamp = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) x = std::max<int64_t>(x + n, s > 0 ? 0 : -1);
    if (x > n) x = s > 0 ? n : n - 1;
    if (s < 0 && x >= n) x = n - 1;
    return x;
  };
  return SliceBounds{clamp(a, s > 0 ? 0 : n - 1), clamp(b, s > 0 ? n : -1), s};
}
}  // namespace

StatusOr<Value> Interpreter::eval_slice(const Expr& e) {
  AGENTD_ASSIGN_OR_RETURN(Value target, eval(*e.items[0]));
  Value bounds[3];
  for (int i = 0; i < 3; ++i) {
    if (e.items[static_cast<size_t>(i) + 1]) {
      AGENTD_ASSIGN_OR_RETURN(bounds[i], eval(*e.items[static_cast<size_t>(i) + 1]));
    }
  }
  if (target.is_string()) {
    const std::string& s = target.as_string();
    const std::vector<size_t> offsets = utf8::code_point_offsets(s);
    const auto n = static_cast<int64_t>(offsets.size() - 1);
    auto b = slice_bounds(bounds[0], bounds[1], bounds[2], n);
    if (!b.is_ok()) return error_at(e, b.status());
    std::string out;
    for (int64_t i = b->start; b->step > 0 ? i < b->stop : i > b->stop; i += b->step) {
      const auto k = static_cast<size_t>(i);
      out.append(s, offsets[k], offsets[k + 1] - offsets[k]);
    }
    return Value(std::move(out));
  }
  if (target.is_array()) {
    const Array& a = target.as_array();
    auto b = slice_bounds(bounds[0], bounds[1], bounds[2], static_cast<int64_t>(a.items.size()));
    if (!b.is_ok()) return error_at(e, b.status());
    std::vector<Value> out;
    for (int64_t i = b->start; b->step > 0 ? i < b->stop : i > b->stop; i += b->step) {
      out.push_back(a.items[static_cast<size_t>(i)]);
    }
    return a.is_tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
  }
  if (target.is_undefined()) return error_at(e, Status::invalid_argument(target.undefined_hint()));
  return error_at(e, Status::invalid_argument(std::string("'") + target.type_name() + "' object is not subscriptable"));
}

StatusOr<Value> Interpreter::eval_filter(const Expr& e, const Value* block_subject) {
  Value subject;
  if (e.items[0]) {
    if (e.items[0]->kind == ExprKind::kFilter) {
      AGENTD_ASSIGN_OR_RETURN(subject, eval_filter(*e.items[0], block_subject));
    } else {
      AGENTD_ASSIGN_OR_RETURN(subject, eval(*e.items[0]));
    }
  } else if (block_subject) {
    subject = *block_subject;
  }
  CallArgs args;
  AGENTD_RETURN_IF_ERROR(eval_args(e.args, args));
  auto v = filter(e.name, subject, args);
  if (!v.is_ok()) return error_at(e, v.status());
  return v;
}

// ---- object protocol --------------------------------------------------------

StatusOr<Value> Interpreter::call(const Value& callee, CallArgs& args) {
  AGENTD_RETURN_IF_ERROR(tick());
  if (callee.is_callable()) {
    const Callable& c = callee.as_callable();
    auto result = c.fn(*this, args);
    if (!result.is_ok() && c.name == "raise_exception") raised_ = true;
    return result;
  }
  if (callee.is_undefined()) return Status::invalid_argument(callee.undefined_hint());
  return Status::invalid_argument(std::string("'") + callee.type_name() + "' object is not callable");
}

StatusOr<Value> Interpreter::get_attribute(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) return Status::invalid_argument(obj.undefined_hint());
  if (!name.empty() && name[0] == '_') {
    // The sandbox hides private and dunder attributes.
    return Value::undefined(std::string("access to attribute '") + std::string(name) + "' is unsafe");
  }
  if (obj.is_namespace()) {
    const Value* v = obj.as_namespace().find(name);
    if (v) return *v;
    return Value::undefined(std::string("'Namespace' has no attribute '") + std::string(name) + "'");
  }
  if (auto method = bound_method(obj, name)) return *method;
  if (obj.is_object()) {
    const Value* v = obj.as_object().find(name);
    if (v) return *v;
    return Value::undefined(std::string("'dict object' has no attribute '") + std::string(name) + "'");
  }
  return Value::undefined(std::string("'") + obj.type_name() + " object' has no attribute '" + std::string(name) + "'");
}

StatusOr<Value> Interpreter::get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return Status::invalid_argument(obj.undefined_hint());
  if (obj.is_object() || obj.is_namespace()) {
    const Object& o = obj.is_object() ? obj.as_object() : obj.as_namespace();
    const Value* v = o.find(key);
    if (v) return *v;
  } else if ((obj.is_array() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.is_int() ? key.as_int() : (key.as_bool() ? 1 : 0);
    if (obj.is_array()) {
      const auto n = static_cast<int64_t>(obj.as_array().items.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.as_array().items[static_cast<size_t>(i)];
    } else {
      const std::string& s = obj.as_string();
      const std::vector<size_t> offsets = utf8::code_point_offsets(s);
      const auto n = static_cast<int64_t>(offsets.size() - 1);
      if (i < 0) i += n;
      if (i >= 0 && i < n) {
        const auto k = static_cast<size_t>(i);
        return Value(s.substr(offsets[k], offsets[k + 1] - offsets[k]));
      }
    }
    return Value::undefined(obj.type_name() + " index out of range");
  }
  if (key.is_string()) return get_attribute(obj, key.as_string());
  return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " + key.repr());
}

StatusOr<std::vector<Value>> Interpreter::iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return std::vector<Value>();
    case Value::Kind::kArray: return v.as_array().items;
    case Value::Kind::kObject: {
      std::vector<Value> keys;
      keys.reserve(v.as_object().size());
      for (const auto& [k, val] : v.as_object().entries()) keys.push_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      const std::string& s = v.as_string();
      const std::vector<size_t> offsets = utf8::code_point_offsets(s);
      std::vector<Value> chars;
      chars.reserve(offsets.size());
      for (size_t i = 0; i + 1 < offsets.size(); ++i) chars.emplace_back(s.substr(offsets[i], offsets[i + 1] - offsets[i]));
      return chars;
    }
    default: return Status::invalid_argument(std::string("'") + v.type_name() + "' object is not iterable");
  }
}

StatusOr<Value> Interpreter::filter(std::string_view name, const Value& subject, CallArgs& args) {
  AGENTD_RETURN_IF_ERROR(tick());
  return apply_filter(*this, name, subject, args);
}

StatusOr<bool> Interpreter::test(std::string_view name, const Value& subject, CallArgs& args) {
  AGENTD_RETURN_IF_ERROR(tick());
  return apply_test(*this, name, subject, args);
}

}  // namespace agentd::engine::jinja
