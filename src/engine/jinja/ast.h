#pragma once
// The syntax tree the parser builds and the interpreter walks. Nodes own
// their children (unique_ptr); a parsed tree is immutable, so one tree may be
// rendered from many threads at once.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/jinja/value.h"

namespace agentd::engine::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

enum class ExprKind {
  kLiteral,    // literal
  kName,       // name
  kList,       // items
  kTuple,      // items
  kDict,       // items: key, value, key, value, ...
  kAttribute,  // items[0].name
  kItem,       // items[0][items[1]]
  kSlice,      // items[0][items[1]:items[2]:items[3]], each bound may be null
  kCall,       // items[0](args)
  kFilter,     // items[0] | name(args); items[0] is null inside {% filter %}
  kTest,       // items[0] is [not] name(args)
  kNot,        // not items[0]
  kNegate,     // -items[0]
  kPlus,       // +items[0]
  kBinary,     // items[0] op items[1]; op in name: + - * / // % ** ~ in notin
  kAnd,        // items[0] and items[1]
  kOr,         // items[0] or items[1]
  kCompare,    // items[0] ops[0] items[1] ops[1] items[2] ... (chained)
  kCondition,  // items[1] if items[0] else items[2] (items[2] may be null)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  int column = 0;
  Value literal;
  std::string name;
  std::vector<ExprPtr> items;
  std::vector<std::string> ops;
  Arguments args;
  bool negated = false;  // `is not`
};

enum class StmtKind {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches, else_body
  kFor,          // for targets in expr [if filter]: body [else: else_body]
  kSet,          // set targets = expr, or set targets[0].attribute = expr
  kSetBlock,     // set targets[0] [| filter] %} body {% endset
  kMacro,        // macro name(params) body
  kBreak,
  kContinue,
  kFilterBlock,  // filter (a kFilter chain over a null subject) applied to body
  kWith,         // with params: body, in a new scope
  kDo,           // do expr
  kScope,        // block / generation: body rendered in place
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  int line = 0;
  int column = 0;
  std::string text;
  ExprPtr expr;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::string> targets;
  std::string attribute;  // set ns.attribute = ...
  ExprPtr filter;
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // default may be null
};

}  // namespace agentd::engine::jinja
