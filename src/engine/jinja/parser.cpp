#include "engine/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "engine/jinja/filters.h"
#include "engine/jinja/predicates.h"

namespace agentd::engine::jinja {
namespace {

// Deeper nesting than this is never written by hand; refusing it keeps the
// recursive-descent parser and the tree-walking interpreter off the end of
// the stack (a level costs about a dozen frames through the precedence chain).
constexpr int kMaxNesting = 64;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  StatusOr<Body> parse_template() {
    std::string found;
    AGENTD_ASSIGN_OR_RETURN(Body body, parse_body({}, &found));
    return body;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
    ~DepthGuard() { --depth_; }
    int& depth_;
  };

  const Token& cur() const { return toks_[i_]; }
  const Token& peek(size_t n = 1) const { return toks_[std::min(i_ + n, toks_.size() - 1)]; }
  void advance() {
    if (i_ + 1 < toks_.size()) ++i_;
  }
  bool is_op(std::string_view op) const { return cur().kind == TokenKind::kOperator && cur().text == op; }
  bool is_name(std::string_view name) const { return cur().kind == TokenKind::kName && cur().text == name; }
  bool at_block_end() const { return cur().kind == TokenKind::kBlockEnd; }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::kText: return "template text";
      case TokenKind::kVarBegin: return "'{{'";
      case TokenKind::kVarEnd: return "'}}'";
      case TokenKind::kBlockBegin: return "'{%'";
      case TokenKind::kBlockEnd: return "'%}'";
      case TokenKind::kName: return std::string("name '") + t.text + "'";
      case TokenKind::kString: return "string literal";
      case TokenKind::kInt:
      case TokenKind::kFloat: return std::string("number ") + t.text;
      case TokenKind::kOperator: return std::string("'") + t.text + "'";
      case TokenKind::kEnd: return "end of template";
    }
    return "token";
  }

  Status error(const Token& t, const std::string& what) const {
    return Status::invalid_argument(std::string("template syntax error at line ") + std::to_string(t.line) + ", column " +
                                    std::to_string(t.column) + ": " + what);
  }
  Status unexpected(const std::string& expected) const {
    return error(cur(), std::string("expected ") + expected + ", got " + describe(cur()));
  }
  Status expect_op(std::string_view op) {
    if (!is_op(op)) return unexpected(std::string("'") + std::string(op) + "'");
    advance();
    return Status::ok();
  }
  Status expect_block_end() {
    if (!at_block_end()) return unexpected("'%}'");
    advance();
    return Status::ok();
  }
  StatusOr<std::string> expect_name() {
    if (cur().kind != TokenKind::kName) return unexpected("a name");
    std::string name = cur().text;
    advance();
    return name;
  }

  ExprPtr node(ExprKind kind, const Token& at) const {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    return e;
  }
  StmtPtr stmt(StmtKind kind, const Token& at) const {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = at.line;
    s->column = at.column;
    return s;
  }

  // Statements up to (not including the rest of) a block tag whose name is in
  // `ends`; the name found is stored in *found and the tag's name consumed.
  StatusOr<Body> parse_body(std::initializer_list<std::string_view> ends, std::string* found) {
    DepthGuard guard(depth_);
    if (depth_ > kMaxNesting) return error(cur(), "blocks nested too deeply");
    Body body;
    while (true) {
      const Token& t = cur();
      switch (t.kind) {
        case TokenKind::kText: {
          auto s = stmt(StmtKind::kText, t);
          s->text = t.text;
          body.push_back(std::move(s));
          advance();
          break;
        }
        case TokenKind::kVarBegin: {
          auto s = stmt(StmtKind::kOutput, t);
          advance();
          AGENTD_ASSIGN_OR_RETURN(s->expr, parse_tuple(true, false));
          if (cur().kind != TokenKind::kVarEnd) return unexpected("'}}'");
          advance();
          body.push_back(std::move(s));
          break;
        }
        case TokenKind::kBlockBegin: {
          const Token& name = peek();
          if (name.kind != TokenKind::kName) {
            advance();
            return unexpected("a statement name");
          }
          if (std::find(ends.begin(), ends.end(), name.text) != ends.end()) {
            *found = name.text;
            advance();
            advance();
            return body;
          }
          AGENTD_ASSIGN_OR_RETURN(StmtPtr s, parse_statement());
          body.push_back(std::move(s));
          break;
        }
        case TokenKind::kEnd: {
          if (ends.size() != 0) {
            std::string names;
            for (std::string_view e : ends) names += (names.empty() ? "'" : " or '") + std::string(e) + "'";
            return error(t, std::string("unexpected end of template, expected ") + names);
          }
          return body;
        }
        default: return unexpected("template text or a tag");
      }
    }
  }

  StatusOr<StmtPtr> parse_statement() {
    advance();  // {%
    const Token& t = cur();
    const std::string name = t.text;
    advance();
    if (name == "if") return parse_if(t);
    if (name == "for") return parse_for(t);
    if (name == "set") return parse_set(t);
    if (name == "macro") return parse_macro(t);
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) return error(t, std::string("'") + name + "' outside of a loop");
      AGENTD_RETURN_IF_ERROR(expect_block_end());
      return stmt(name == "break" ? StmtKind::kBreak : StmtKind::kContinue, t);
    }
    if (name == "filter") {
      auto s = stmt(StmtKind::kFilterBlock, t);
      AGENTD_ASSIGN_OR_RETURN(s->filter, parse_filter_chain(nullptr, false));
      AGENTD_RETURN_IF_ERROR(expect_block_end());
      std::string found;
      AGENTD_ASSIGN_OR_RETURN(s->body, parse_body({"endfilter"}, &found));
      AGENTD_RETURN_IF_ERROR(expect_block_end());
      return s;
    }
    if (name == "with") {
      auto s = stmt(StmtKind::kWith, t);
      while (!at_block_end()) {
        if (!s->params.empty()) AGENTD_RETURN_IF_ERROR(expect_op(","));
        AGENTD_ASSIGN_OR_RETURN(std::string var, expect_name());
        AGENTD_RETURN_IF_ERROR(expect_op("="));
        AGENTD_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
        s->params.emplace_back(std::move(var), std::move(value));
      }
      advance();
      std::string found;
      AGENTD_ASSIGN_OR_RETURN(s->body, parse_body({"endwith"}, &found));
      AGENTD_RETURN_IF_ERROR(expect_block_end());
      return s;
    }
    if (name == "do") {
      auto s = stmt(StmtKind::kDo, t);
      AGENTD_ASSIGN_OR_RETURN(s->expr, parse_tuple(true, false));
      AGENTD_RETURN_IF_ERROR(expect_block_end());
      return s;
    }
    if (name == "block" || name == "generation") {
      auto s = stmt(StmtKind::kScope, t);
      if (name == "block") {
        AGENTD_ASSIGN_OR_RETURN(s->name, expect_name());
        if (is_name("scoped") || is_name("required")) advance();
      }
      AGENTD_RETURN_IF_ERROR(expect_block_end());
      std::string found;
      const std::string end = std::string("end") + name;
      AGENTD_ASSIGN_OR_RETURN(s->body, parse_body({end}, &found));
      if (name == "block" && cur().kind == TokenKind::kName) advance();
      AGENTD_RETURN_IF_ERROR(expect_block_end());
      return s;
    }
    return error(t, std::string("unknown or unsupported tag '") + name + "'");
  }

  StatusOr<StmtPtr> parse_if(const Token& t) {
    auto s = stmt(StmtKind::kIf, t);
    AGENTD_ASSIGN_OR_RETURN(ExprPtr cond, parse_tuple(true, false));
    AGENTD_RETURN_IF_ERROR(expect_block_end());
    while (true) {
      std::string found;
      AGENTD_ASSIGN_OR_RETURN(Body body, parse_body({"elif", "else", "endif"}, &found));
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (found == "elif") {
        AGENTD_ASSIGN_OR_RETURN(cond, parse_tuple(true, false));
        AGENTD_RETURN_IF_ERROR(expect_block_end());
        continue;
      }
      AGENTD_RETURN_IF_ERROR(expect_block_end());
      if (found == "else") {
        AGENTD_ASSIGN_OR_RETURN(s->else_body, parse_body({"endif"}, &found));
        AGENTD_RETURN_IF_ERROR(expect_block_end());
      }
      return s;
    }
  }

  StatusOr<std::vector<std::string>> parse_target_names() {
    std::vector<std::string> names;
    const bool parens = is_op("(");
    if (parens) advance();
    while (true) {
      AGENTD_ASSIGN_OR_RETURN(std::string n, expect_name());
      names.push_back(std::move(n));
      if (!is_op(",")) break;
      advance();
      if (cur().kind != TokenKind::kName) break;  // trailing comma
    }
    if (parens) AGENTD_RETURN_IF_ERROR(expect_op(")"));
    return names;
  }

  StatusOr<StmtPtr> parse_for(const Token& t) {
    auto s = stmt(StmtKind::kFor, t);
    AGENTD_ASSIGN_OR_RETURN(s->targets, parse_target_names());
    if (!is_name("in")) return unexpected("'in'");
    advance();
    AGENTD_ASSIGN_OR_RETURN(s->expr, parse_tuple(false, false));
    if (is_name("if")) {
      advance();
      AGENTD_ASSIGN_OR_RETURN(s->filter, parse_expression(true));
    }
    if (is_name("recursive")) return error(cur(), "recursive loops are not supported");
    AGENTD_RETURN_IF_ERROR(expect_block_end());
    ++loop_depth_;
    std::string found;
    auto body = parse_body({"else", "endfor"}, &found);
    --loop_depth_;
    if (!body.is_ok()) return body.status();
    s->body = std::move(body).value();
    AGENTD_RETURN_IF_ERROR(expect_block_end());
    if (found == "else") {
      AGENTD_ASSIGN_OR_RETURN(s->else_body, parse_body({"endfor"}, &found));
      AGENTD_RETURN_IF_ERROR(expect_block_end());
    }
    return s;
  }

  StatusOr<StmtPtr> parse_set(const Token& t) {
    auto s = stmt(StmtKind::kSet, t);
    if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().text == ".") {
      s->targets.push_back(cur().text);
      advance();
      advance();
      AGENTD_ASSIGN_OR_RETURN(s->attribute, expect_name());
    } else {
      AGENTD_ASSIGN_OR_RETURN(s->targets, parse_target_names());
    }
    if (is_op("=")) {
      advance();
      AGENTD_ASSIGN_OR_RETURN(s->expr, parse_tuple(true, false));
      AGENTD_RETURN_IF_ERROR(expect_block_end());
      return s;
    }
    if (!s->attribute.empty() || s->targets.size() != 1) return unexpected("'='");
    s->kind = StmtKind::kSetBlock;
    if (is_op("|")) {
      AGENTD_ASSIGN_OR_RETURN(s->filter, parse_filter_chain(nullptr, true));
    }
    AGENTD_RETURN_IF_ERROR(expect_block_end());
    std::string found;
    AGENTD_ASSIGN_OR_RETURN(s->body, parse_body({"endset"}, &found));
    AGENTD_RETURN_IF_ERROR(expect_block_end());
    return s;
  }

  StatusOr<StmtPtr> parse_macro(const Token& t) {
    auto s = stmt(StmtKind::kMacro, t);
    AGENTD_ASSIGN_OR_RETURN(s->name, expect_name());
    AGENTD_RETURN_IF_ERROR(expect_op("("));
    bool seen_default = false;
    while (!is_op(")")) {
      if (!s->params.empty()) {
        AGENTD_RETURN_IF_ERROR(expect_op(","));
        if (is_op(")")) break;
      }
      const Token& at = cur();
      AGENTD_ASSIGN_OR_RETURN(std::string param, expect_name());
      ExprPtr def;
      if (is_op("=")) {
        advance();
        AGENTD_ASSIGN_OR_RETURN(def, parse_expression(true));
        seen_default = true;
      } else if (seen_default) {
        return error(at, "non-default argument follows default argument");
      }
      s->params.emplace_back(std::move(param), std::move(def));
    }
    advance();
    AGENTD_RETURN_IF_ERROR(expect_block_end());
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;  // break/continue cannot cross a macro boundary
    std::string found;
    auto body = parse_body({"endmacro"}, &found);
    loop_depth_ = saved_loops;
    if (!body.is_ok()) return body.status();
    s->body = std::move(body).value();
    if (cur().kind == TokenKind::kName) advance();
    AGENTD_RETURN_IF_ERROR(expect_block_end());
    return s;
  }

  // ---- expressions -------------------------------------------------------

  bool at_tuple_end() const {
    return cur().kind == TokenKind::kVarEnd || cur().kind == TokenKind::kBlockEnd || is_op(")") ||
           cur().kind == TokenKind::kEnd || is_name("if") || is_name("recursive");
  }

  // expr, expr, ... as a tuple; a single expression without a comma as itself.
  StatusOr<ExprPtr> parse_tuple(bool with_condexpr, bool in_parens) {
    const Token& start = cur();
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) {
        if (!is_op(",")) break;
        advance();
        is_tuple = true;
        if (at_tuple_end() && !(with_condexpr && is_name("if"))) break;
      }
      if (items.empty() && in_parens && is_op(")")) break;
      AGENTD_ASSIGN_OR_RETURN(ExprPtr e, with_condexpr ? parse_expression(true) : parse_or());
      items.push_back(std::move(e));
    }
    if (!is_tuple && items.size() == 1) return std::move(items[0]);
    if (items.empty() && !in_parens) return unexpected("an expression");
    auto t = node(ExprKind::kTuple, start);
    t->items = std::move(items);
    return t;
  }

  StatusOr<ExprPtr> parse_expression(bool with_condexpr) {
    if (!with_condexpr) return parse_or();
    DepthGuard guard(depth_);
    if (depth_ > kMaxNesting) return error(cur(), "expression nested too deeply");
    AGENTD_ASSIGN_OR_RETURN(ExprPtr expr, parse_or());
    while (is_name("if")) {
      const Token& at = cur();
      advance();
      AGENTD_ASSIGN_OR_RETURN(ExprPtr cond, parse_or());
      ExprPtr otherwise;
      if (is_name("else")) {
        advance();
        AGENTD_ASSIGN_OR_RETURN(otherwise, parse_expression(true));
      }
      auto c = node(ExprKind::kCondition, at);
      c->items.push_back(std::move(cond));
      c->items.push_back(std::move(expr));
      c->items.push_back(std::move(otherwise));
      expr = std::move(c);
    }
    return expr;
  }

  StatusOr<ExprPtr> parse_or() {
    AGENTD_ASSIGN_OR_RETURN(ExprPtr left, parse_and());
    while (is_name("or")) {
      auto n = node(ExprKind::kOr, cur());
      advance();
      AGENTD_ASSIGN_OR_RETURN(ExprPtr right, parse_and());
      n->items.push_back(std::move(left));
      n->items.push_back(std::move(right));
      left = std::move(n);
    }
    return left;
  }

  StatusOr<ExprPtr> parse_and() {
    AGENTD_ASSIGN_OR_RETURN(ExprPtr left, parse_not());
    while (is_name("and")) {
      auto n = node(ExprKind::kAnd, cur());
      advance();
      AGENTD_ASSIGN_OR_RETURN(ExprPtr right, parse_not());
      n->items.push_back(std::move(left));
      n->items.push_back(std::move(right));
      left = std::move(n);
    }
    return left;
  }

  StatusOr<ExprPtr> parse_not() {
    if (is_name("not")) {
      DepthGuard guard(depth_);
      if (depth_ > kMaxNesting) return error(cur(), "expression nested too deeply");
      auto n = node(ExprKind::kNot, cur());
      advance();
      AGENTD_ASSIGN_OR_RETURN(ExprPtr operand, parse_not());
      n->items.push_back(std::move(operand));
      return n;
    }
    return parse_compare();
  }

  StatusOr<ExprPtr> parse_compare() {
    const Token& start = cur();
    AGENTD_ASSIGN_OR_RETURN(ExprPtr first, parse_math1());
    std::vector<ExprPtr> operands;
    std::vector<std::string> ops;
    operands.push_back(std::move(first));
    while (true) {
      std::string op;
      if (cur().kind == TokenKind::kOperator &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().kind == TokenKind::kName && peek().text == "in") {
        op = "notin";
        advance();
        advance();
      } else {
        break;
      }
      AGENTD_ASSIGN_OR_RETURN(ExprPtr operand, parse_math1());
      ops.push_back(std::move(op));
      operands.push_back(std::move(operand));
    }
    if (ops.empty()) return std::move(operands[0]);
    auto n = node(ExprKind::kCompare, start);
    n->items = std::move(operands);
    n->ops = std::move(ops);
    return n;
  }

  using Level = StatusOr<ExprPtr> (Parser::*)();
  StatusOr<ExprPtr> parse_binary_level(Level next, std::initializer_list<std::string_view> ops) {
    AGENTD_ASSIGN_OR_RETURN(ExprPtr left, (this->*next)());
    while (cur().kind == TokenKind::kOperator && std::find(ops.begin(), ops.end(), cur().text) != ops.end()) {
      auto n = node(ExprKind::kBinary, cur());
      n->name = cur().text;
      advance();
      AGENTD_ASSIGN_OR_RETURN(ExprPtr right, (this->*next)());
      n->items.push_back(std::move(left));
      n->items.push_back(std::move(right));
      left = std::move(n);
    }
    return left;
  }
  StatusOr<ExprPtr> parse_math1() { return parse_binary_level(&Parser::parse_concat, {"+", "-"}); }
  StatusOr<ExprPtr> parse_concat() { return parse_binary_level(&Parser::parse_math2, {"~"}); }
  StatusOr<ExprPtr> parse_math2() { return parse_binary_level(&Parser::parse_pow, {"*", "/", "//", "%"}); }
  StatusOr<ExprPtr> parse_pow() { return parse_binary_level(&Parser::parse_unary_filtered, {"**"}); }
  StatusOr<ExprPtr> parse_unary_filtered() { return parse_unary(true); }

  StatusOr<ExprPtr> parse_unary(bool with_filter) {
    DepthGuard guard(depth_);
    if (depth_ > kMaxNesting) return error(cur(), "expression nested too deeply");
    ExprPtr n;
    if (is_op("-") || is_op("+")) {
      n = node(is_op("-") ? ExprKind::kNegate : ExprKind::kPlus, cur());
      advance();
      AGENTD_ASSIGN_OR_RETURN(ExprPtr operand, parse_unary(false));
      n->items.push_back(std::move(operand));
    } else {
      AGENTD_ASSIGN_OR_RETURN(n, parse_primary());
    }
    AGENTD_ASSIGN_OR_RETURN(n, parse_postfix(std::move(n)));
    if (with_filter) {
      AGENTD_ASSIGN_OR_RETURN(n, parse_filter_chain(std::move(n), true));
    }
    return n;
  }

  StatusOr<ExprPtr> parse_primary() {
    const Token& t = cur();
    switch (t.kind) {
      case TokenKind::kName: {
        auto n = node(ExprKind::kLiteral, t);
        if (t.text == "true" || t.text == "True") {
          n->literal = Value(true);
        } else if (t.text == "false" || t.text == "False") {
          n->literal = Value(false);
        } else if (t.text == "none" || t.text == "None") {
          n->literal = Value(None{});
        } else {
          n->kind = ExprKind::kName;
          n->name = t.text;
        }
        advance();
        return n;
      }
      case TokenKind::kString: {
        auto n = node(ExprKind::kLiteral, t);
        std::string s;
        while (cur().kind == TokenKind::kString) {  // "a" "b" concatenates, as in Python
          s += cur().text;
          advance();
        }
        n->literal = Value(std::move(s));
        return n;
      }
      case TokenKind::kInt: {
        auto n = node(ExprKind::kLiteral, t);
        n->literal = Value(t.int_value);
        advance();
        return n;
      }
      case TokenKind::kFloat: {
        auto n = node(ExprKind::kLiteral, t);
        n->literal = Value(t.float_value);
        advance();
        return n;
      }
      case TokenKind::kOperator: {
        if (t.text == "(") {
          advance();
          AGENTD_ASSIGN_OR_RETURN(ExprPtr inner, parse_tuple(true, true));
          AGENTD_RETURN_IF_ERROR(expect_op(")"));
          return inner;
        }
        if (t.text == "[") {
          auto n = node(ExprKind::kList, t);
          advance();
          while (!is_op("]")) {
            if (!n->items.empty()) {
              AGENTD_RETURN_IF_ERROR(expect_op(","));
              if (is_op("]")) break;
            }
            AGENTD_ASSIGN_OR_RETURN(ExprPtr item, parse_expression(true));
            n->items.push_back(std::move(item));
          }
          advance();
          return n;
        }
        if (t.text == "{") {
          auto n = node(ExprKind::kDict, t);
          advance();
          while (!is_op("}")) {
            if (!n->items.empty()) {
              AGENTD_RETURN_IF_ERROR(expect_op(","));
              if (is_op("}")) break;
            }
            AGENTD_ASSIGN_OR_RETURN(ExprPtr key, parse_expression(true));
            AGENTD_RETURN_IF_ERROR(expect_op(":"));
            AGENTD_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
            n->items.push_back(std::move(key));
            n->items.push_back(std::move(value));
          }
          advance();
          return n;
        }
        break;
      }
      default: break;
    }
    return unexpected("an expression");
  }

  StatusOr<ExprPtr> parse_postfix(ExprPtr n) {
    while (true) {
      if (is_op(".")) {
        const Token& at = cur();
        advance();
        if (cur().kind == TokenKind::kName) {
          auto a = node(ExprKind::kAttribute, at);
          a->name = cur().text;
          a->items.push_back(std::move(n));
          n = std::move(a);
        } else if (cur().kind == TokenKind::kInt) {
          auto a = node(ExprKind::kItem, at);
          a->items.push_back(std::move(n));
          auto index = node(ExprKind::kLiteral, cur());
          index->literal = Value(cur().int_value);
          a->items.push_back(std::move(index));
          n = std::move(a);
        } else {
          return unexpected("an attribute name");
        }
        advance();
      } else if (is_op("[")) {
        AGENTD_ASSIGN_OR_RETURN(n, parse_subscript(std::move(n)));
      } else if (is_op("(")) {
        AGENTD_ASSIGN_OR_RETURN(n, parse_call(std::move(n)));
      } else {
        return n;
      }
    }
  }

  StatusOr<ExprPtr> parse_subscript(ExprPtr target) {
    const Token& at = cur();
    advance();  // [
    ExprPtr start;
    if (!is_op(":")) {
      AGENTD_ASSIGN_OR_RETURN(start, parse_tuple(true, false));
      if (is_op("]")) {
        advance();
        auto n = node(ExprKind::kItem, at);
        n->items.push_back(std::move(target));
        n->items.push_back(std::move(start));
        return n;
      }
    }
    AGENTD_RETURN_IF_ERROR(expect_op(":"));
    ExprPtr stop;
    ExprPtr step;
    if (!is_op("]") && !is_op(":")) {
      AGENTD_ASSIGN_OR_RETURN(stop, parse_expression(true));
    }
    if (is_op(":")) {
      advance();
      if (!is_op("]")) {
        AGENTD_ASSIGN_OR_RETURN(step, parse_expression(true));
      }
    }
    AGENTD_RETURN_IF_ERROR(expect_op("]"));
    auto n = node(ExprKind::kSlice, at);
    n->items.push_back(std::move(target));
    n->items.push_back(std::move(start));
    n->items.push_back(std::move(stop));
    n->items.push_back(std::move(step));
    return n;
  }

  Status parse_arguments(Arguments& args) {
    AGENTD_RETURN_IF_ERROR(expect_op("("));
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        AGENTD_RETURN_IF_ERROR(expect_op(","));
        if (is_op(")")) break;
      }
      first = false;
      if (is_op("*") || is_op("**")) return error(cur(), "*args and **kwargs in calls are not supported");
      if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().text == "=") {
        std::string key = cur().text;
        advance();
        advance();
        AGENTD_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
        args.keyword.emplace_back(std::move(key), std::move(value));
      } else {
        if (!args.keyword.empty()) return error(cur(), "positional argument follows keyword argument");
        AGENTD_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
        args.positional.push_back(std::move(value));
      }
    }
    advance();
    return Status::ok();
  }

  StatusOr<ExprPtr> parse_call(ExprPtr callee) {
    auto n = node(ExprKind::kCall, cur());
    n->items.push_back(std::move(callee));
    AGENTD_RETURN_IF_ERROR(parse_arguments(n->args));
    return n;
  }

  StatusOr<std::string> parse_dotted_name() {
    AGENTD_ASSIGN_OR_RETURN(std::string name, expect_name());
    while (is_op(".") && peek().kind == TokenKind::kName) {
      advance();
      name += std::string(".") + cur().text;
      advance();
    }
    return name;
  }

  // `| f(args) | g is test ...` after `subject`; with subject == nullptr the
  // chain starts with a filter name (the {% filter %} and {% set %} forms).
  StatusOr<ExprPtr> parse_filter_chain(ExprPtr subject, bool leading_pipe) {
    bool first = true;
    while (true) {
      const bool bare_first = first && !leading_pipe;
      first = false;
      if (bare_first || is_op("|")) {
        const Token& at = cur();
        if (!bare_first) advance();
        auto f = node(ExprKind::kFilter, at);
        const Token& name_token = cur();
        AGENTD_ASSIGN_OR_RETURN(f->name, parse_dotted_name());
        // Jinja resolves filter and test names when it compiles a template.
        if (!has_filter(f->name)) return error(name_token, std::string("no filter named '") + f->name + "'");
        if (is_op("(")) AGENTD_RETURN_IF_ERROR(parse_arguments(f->args));
        f->items.push_back(std::move(subject));
        subject = std::move(f);
      } else if (is_name("is") && subject) {
        const Token& at = cur();
        advance();
        auto test = node(ExprKind::kTest, at);
        if (is_name("not")) {
          test->negated = true;
          advance();
        }
        const Token& name_token = cur();
        AGENTD_ASSIGN_OR_RETURN(test->name, parse_dotted_name());
        if (!has_test(test->name)) return error(name_token, std::string("no test named '") + test->name + "'");
        if (is_op("(")) {
          AGENTD_RETURN_IF_ERROR(parse_arguments(test->args));
        } else if ((cur().kind == TokenKind::kName || cur().kind == TokenKind::kString ||
                    cur().kind == TokenKind::kInt || cur().kind == TokenKind::kFloat || is_op("[") ||
                    is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          // `x is divisibleby 3`: one argument without parentheses.
          AGENTD_ASSIGN_OR_RETURN(ExprPtr arg, parse_primary());
          AGENTD_ASSIGN_OR_RETURN(arg, parse_postfix(std::move(arg)));
          test->args.positional.push_back(std::move(arg));
        }
        test->items.push_back(std::move(subject));
        subject = std::move(test);
      } else if (is_op("(") && subject) {
        AGENTD_ASSIGN_OR_RETURN(subject, parse_call(std::move(subject)));
      } else {
        return subject;
      }
    }
  }

  std::vector<Token> toks_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

StatusOr<Body> parse(std::string_view source, const LexOptions& options) {
  AGENTD_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source, options));
  Parser parser(std::move(tokens));
  return parser.parse_template();
}

}  // namespace agentd::engine::jinja
