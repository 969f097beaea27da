#include "engine/grammar/grammar.h"

#include <algorithm>
#include <limits>
#include <queue>

#include "engine/grammar/utf8_ranges.h"

namespace agentd::engine::grammar {

namespace {

constexpr int32_t kInfinite = std::numeric_limits<int32_t>::max();

int32_t add_saturating(int32_t a, int32_t b) {
  return (a == kInfinite || b == kInfinite || a > kInfinite - b) ? kInfinite : a + b;
}

std::vector<CodePointRange> normalized(std::vector<CodePointRange> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<CodePointRange> out;
  for (auto r : ranges) {
    if (r.first > r.second) continue;
    if (!out.empty() && r.first <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, r.second);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace

Expr empty() { return Expr{}; }

Expr lit(std::string_view bytes) {
  Expr e;
  e.kind = Expr::Kind::kBytes;
  e.bytes = std::string(bytes);
  return e;
}

Expr byte_range(uint8_t lo, uint8_t hi) {
  Expr e;
  e.kind = Expr::Kind::kByteRange;
  e.lo = lo;
  e.hi = hi;
  return e;
}

Expr chars(std::vector<CodePointRange> ranges) {
  ranges = normalized(std::move(ranges));
  if (ranges.empty()) return alt({});
  Expr e;
  e.kind = Expr::Kind::kChars;
  e.ranges = std::move(ranges);
  return e;
}

Expr not_chars(std::vector<CodePointRange> ranges) {
  ranges = normalized(std::move(ranges));
  std::vector<CodePointRange> out;
  uint32_t next = 0;
  for (auto [a, b] : ranges) {
    if (a > next) out.emplace_back(next, a - 1);
    next = b + 1;
  }
  if (next <= 0x10FFFF) out.emplace_back(next, 0x10FFFF);
  return chars(std::move(out));
}

Expr seq(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  Expr e;
  e.kind = Expr::Kind::kSeq;
  e.items = std::move(items);
  return e;
}

Expr alt(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  Expr e;
  e.kind = Expr::Kind::kAlt;
  e.items = std::move(items);
  return e;
}

Expr repeat(Expr item, int32_t min, int32_t max) {
  if (min == 1 && max == 1) return item;
  Expr e;
  e.kind = Expr::Kind::kRepeat;
  e.items.push_back(std::move(item));
  e.min = min;
  e.max = max;
  return e;
}

Expr opt(Expr item) { return repeat(std::move(item), 0, 1); }

Expr ref(int32_t rule) {
  Expr e;
  e.kind = Expr::Kind::kRef;
  e.rule = rule;
  return e;
}

int32_t GrammarBuilder::declare(std::string name) {
  bodies_.push_back(Body{std::move(name), Expr{}, false});
  return static_cast<int32_t>(bodies_.size() - 1);
}

void GrammarBuilder::define(int32_t rule, Expr body) {
  Body& b = bodies_[static_cast<size_t>(rule)];
  b.expr = std::move(body);
  b.defined = true;
}

int32_t GrammarBuilder::add(std::string name, Expr body) {
  const int32_t id = declare(std::move(name));
  define(id, std::move(body));
  return id;
}

bool GrammarBuilder::defined(int32_t rule) const {
  return rule >= 0 && static_cast<size_t>(rule) < bodies_.size() && bodies_[static_cast<size_t>(rule)].defined;
}

namespace {

// Lowers expressions into rules of element sequences, adding helper rules.
class Lowering {
 public:
  using Sequence = std::vector<Element>;
  std::vector<std::vector<Sequence>> rules;
  std::vector<std::string> names;
  size_t elements = 0;
  size_t max_elements = 0;
  bool too_big = false;

  int32_t new_rule(const std::string& name) {
    rules.emplace_back();
    names.push_back(name);
    return static_cast<int32_t>(rules.size() - 1);
  }

  void add_alternative(int32_t rule, Sequence s) {
    elements += s.size() + 1;
    if (elements > max_elements) too_big = true;
    rules[static_cast<size_t>(rule)].push_back(std::move(s));
  }

  // The rule's alternatives from a top-level expression.
  void define(int32_t rule, const Expr& e) {
    if (e.kind == Expr::Kind::kAlt) {
      for (const Expr& item : e.items) define_one(rule, item);
    } else {
      define_one(rule, e);
    }
  }

  void define_one(int32_t rule, const Expr& e) {
    if (too_big) return;
    Sequence s;
    lower(e, s, rule);
    add_alternative(rule, std::move(s));
  }

  void lower(const Expr& e, Sequence& out, int32_t owner) {
    if (too_big) return;
    switch (e.kind) {
      case Expr::Kind::kEmpty:
        return;
      case Expr::Kind::kBytes:
        for (char c : e.bytes) {
          const auto b = static_cast<uint8_t>(c);
          out.push_back(Element{Element::kBytes, b, b, -1});
        }
        return;
      case Expr::Kind::kByteRange:
        out.push_back(Element{Element::kBytes, e.lo, e.hi, -1});
        return;
      case Expr::Kind::kChars: {
        std::vector<ByteRangeSeq> seqs;
        for (auto [a, b] : e.ranges) {
          for (auto& s : utf8_sequences(a, b)) seqs.push_back(std::move(s));
        }
        if (seqs.size() == 1) {
          for (auto [lo, hi] : seqs[0]) out.push_back(Element{Element::kBytes, lo, hi, -1});
          return;
        }
        const int32_t r = new_rule(names[static_cast<size_t>(owner)] + "-char");
        for (const auto& s : seqs) {
          Sequence alt_seq;
          for (auto [lo, hi] : s) alt_seq.push_back(Element{Element::kBytes, lo, hi, -1});
          add_alternative(r, std::move(alt_seq));
        }
        out.push_back(Element{Element::kRule, 0, 0, r});
        return;
      }
      case Expr::Kind::kSeq:
        for (const Expr& item : e.items) lower(item, out, owner);
        return;
      case Expr::Kind::kAlt: {
        const int32_t r = new_rule(names[static_cast<size_t>(owner)] + "-alt");
        for (const Expr& item : e.items) define_one(r, item);
        out.push_back(Element{Element::kRule, 0, 0, r});
        return;
      }
      case Expr::Kind::kRepeat: {
        Sequence unit;
        lower(e.items[0], unit, owner);
        if (unit.size() > 1) {
          const int32_t r = new_rule(names[static_cast<size_t>(owner)] + "-item");
          add_alternative(r, std::move(unit));
          unit = {Element{Element::kRule, 0, 0, r}};
        }
        if (unit.empty()) return;  // repeating nothing is nothing
        for (int32_t i = 0; i < e.min && !too_big; ++i) {
          out.push_back(unit[0]);
          if (++elements > max_elements) too_big = true;
        }
        if (e.max < 0) {
          const int32_t r = new_rule(names[static_cast<size_t>(owner)] + "-star");
          Sequence loop = {unit[0], Element{Element::kRule, 0, 0, r}};
          add_alternative(r, std::move(loop));
          add_alternative(r, {});
          out.push_back(Element{Element::kRule, 0, 0, r});
        } else if (e.max > e.min) {
          int32_t prev = -1;
          for (int32_t k = 0; k < e.max - e.min && !too_big; ++k) {
            const int32_t r = new_rule(names[static_cast<size_t>(owner)] + "-opt");
            Sequence more = {unit[0]};
            if (prev >= 0) more.push_back(Element{Element::kRule, 0, 0, prev});
            add_alternative(r, std::move(more));
            add_alternative(r, {});
            prev = r;
          }
          out.push_back(Element{Element::kRule, 0, 0, prev});
        }
        return;
      }
      case Expr::Kind::kRef:
        out.push_back(Element{Element::kRule, 0, 0, e.rule});
        return;
    }
  }
};

}  // namespace

StatusOr<std::shared_ptr<const Grammar>> GrammarBuilder::build(int32_t root, size_t max_elements) {
  if (!defined(root)) return Status::invalid_argument("the grammar has no root rule");
  for (size_t r = 0; r < bodies_.size(); ++r) {
    if (!bodies_[r].defined) return Status::invalid_argument("grammar rule '" + bodies_[r].name + "' is not defined");
  }
  Lowering low;
  low.max_elements = max_elements;
  for (const Body& b : bodies_) low.new_rule(b.name);
  for (size_t r = 0; r < bodies_.size(); ++r) low.define(static_cast<int32_t>(r), bodies_[r].expr);
  if (low.too_big) {
    return Status::invalid_argument("the grammar is too large (more than " + std::to_string(max_elements) +
                                    " elements); lower the repetition bounds");
  }

  auto g = std::make_shared<Grammar>();
  g->root_ = root;
  g->names_ = std::move(low.names);
  const size_t n_rules = low.rules.size();
  g->rules_.resize(n_rules);
  for (size_t r = 0; r < n_rules; ++r) {
    for (const auto& s : low.rules[r]) {
      g->rules_[r].push_back(static_cast<int32_t>(g->elements_.size()));
      g->elements_.insert(g->elements_.end(), s.begin(), s.end());
      g->elements_.push_back(Element{});
    }
  }

  // Fewest bytes per rule (Knuth's generalization of Dijkstra: an
  // alternative's length is known once every rule it uses is settled).
  const auto& el = g->elements_;
  struct Alt {
    int32_t rule;
    int32_t start;
    int32_t pending = 0;  // references to unsettled rules
    int32_t bytes = 0;
  };
  std::vector<Alt> alts;
  std::vector<std::vector<int32_t>> users(n_rules);  // rule -> alternatives referencing it (once per reference)
  for (size_t r = 0; r < n_rules; ++r) {
    for (int32_t start : g->rules_[r]) {
      Alt a{static_cast<int32_t>(r), start};
      for (int32_t p = start; el[static_cast<size_t>(p)].kind != Element::kEnd; ++p) {
        const Element& x = el[static_cast<size_t>(p)];
        if (x.kind == Element::kBytes) {
          ++a.bytes;
        } else {
          ++a.pending;
          users[static_cast<size_t>(x.rule)].push_back(static_cast<int32_t>(alts.size()));
        }
      }
      alts.push_back(a);
    }
  }
  g->rule_min_.assign(n_rules, kInfinite);
  using Item = std::pair<int32_t, int32_t>;  // (bytes, rule)
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
  for (const Alt& a : alts) {
    if (a.pending == 0) queue.emplace(a.bytes, a.rule);
  }
  std::vector<bool> settled(n_rules, false);
  while (!queue.empty()) {
    const auto [bytes, rule] = queue.top();
    queue.pop();
    if (settled[static_cast<size_t>(rule)]) continue;
    settled[static_cast<size_t>(rule)] = true;
    g->rule_min_[static_cast<size_t>(rule)] = bytes;
    for (int32_t ai : users[static_cast<size_t>(rule)]) {
      Alt& a = alts[static_cast<size_t>(ai)];
      a.bytes = add_saturating(a.bytes, bytes);
      if (--a.pending == 0 && !settled[static_cast<size_t>(a.rule)]) queue.emplace(a.bytes, a.rule);
    }
  }

  // Rules the root reaches must end.
  std::vector<bool> reached(n_rules, false);
  std::vector<int32_t> todo = {root};
  reached[static_cast<size_t>(root)] = true;
  while (!todo.empty()) {
    const int32_t r = todo.back();
    todo.pop_back();
    if (g->rule_min_[static_cast<size_t>(r)] == kInfinite) {
      return Status::invalid_argument("grammar rule '" + g->names_[static_cast<size_t>(r)] +
                                      "' never ends (every alternative refers back to it, or it has none)");
    }
    for (int32_t start : g->rules_[static_cast<size_t>(r)]) {
      for (int32_t p = start; el[static_cast<size_t>(p)].kind != Element::kEnd; ++p) {
        const Element& x = el[static_cast<size_t>(p)];
        if (x.kind == Element::kRule && !reached[static_cast<size_t>(x.rule)]) {
          reached[static_cast<size_t>(x.rule)] = true;
          todo.push_back(x.rule);
        }
      }
    }
  }

  g->suffix_min_.assign(el.size(), 0);
  for (size_t p = el.size(); p-- > 0;) {
    const Element& x = el[p];
    if (x.kind == Element::kEnd) continue;
    const int32_t here = x.kind == Element::kBytes ? 1 : g->rule_min_[static_cast<size_t>(x.rule)];
    g->suffix_min_[p] = add_saturating(here, g->suffix_min_[p + 1]);
  }

  // Left recursion: a rule reaching itself through leftmost references whose
  // prefixes can be empty. Depth-first with an explicit stack (chains of
  // helper rules can be 100000 long).
  std::vector<std::vector<int32_t>> leftmost(n_rules);  // rules each rule may start with
  for (size_t r = 0; r < n_rules; ++r) {
    for (int32_t start : g->rules_[r]) {
      for (int32_t p = start; el[static_cast<size_t>(p)].kind == Element::kRule; ++p) {
        const int32_t next = el[static_cast<size_t>(p)].rule;
        leftmost[r].push_back(next);
        if (g->rule_min_[static_cast<size_t>(next)] != 0) break;
      }
    }
  }
  std::vector<uint8_t> mark(n_rules, 0);  // 0 new, 1 on the path, 2 done
  for (size_t r0 = 0; r0 < n_rules; ++r0) {
    if (!reached[r0] || mark[r0] != 0) continue;
    std::vector<std::pair<int32_t, size_t>> path = {{static_cast<int32_t>(r0), 0}};
    mark[r0] = 1;
    while (!path.empty()) {
      auto& [r, i] = path.back();
      if (i == leftmost[static_cast<size_t>(r)].size()) {
        mark[static_cast<size_t>(r)] = 2;
        path.pop_back();
        continue;
      }
      const int32_t next = leftmost[static_cast<size_t>(r)][i++];
      if (mark[static_cast<size_t>(next)] == 1) {
        return Status::invalid_argument("grammar rule '" + g->names_[static_cast<size_t>(next)] +
                                        "' is left-recursive (it can refer to itself before matching any byte)");
      }
      if (mark[static_cast<size_t>(next)] == 0) {
        mark[static_cast<size_t>(next)] = 1;
        path.emplace_back(next, 0);
      }
    }
  }
  return std::shared_ptr<const Grammar>(std::move(g));
}

std::string Grammar::to_string() const {
  auto byte_text = [](uint8_t b) {
    static const char* hex = "0123456789ABCDEF";
    if (b >= 0x20 && b < 0x7F && b != '\\' && b != ']' && b != '-' && b != '^') return std::string(1, static_cast<char>(b));
    return std::string("\\x") + hex[b >> 4] + hex[b & 15];
  };
  std::string out;
  for (size_t r = 0; r < rules_.size(); ++r) {
    out += names_[r] + "#" + std::to_string(r) + " ::=";
    bool first = true;
    for (int32_t start : rules_[r]) {
      out += first ? " " : " | ";
      first = false;
      for (int32_t p = start; elements_[static_cast<size_t>(p)].kind != Element::kEnd; ++p) {
        const Element& x = elements_[static_cast<size_t>(p)];
        if (x.kind == Element::kRule) {
          out += names_[static_cast<size_t>(x.rule)] + "#" + std::to_string(x.rule) + " ";
        } else if (x.lo == x.hi) {
          out += "[" + byte_text(x.lo) + "] ";
        } else {
          out += "[" + byte_text(x.lo) + "-" + byte_text(x.hi) + "] ";
        }
      }
      if (elements_[static_cast<size_t>(start)].kind == Element::kEnd) out += "() ";
    }
    out += "\n";
  }
  return out;
}

}  // namespace agentd::engine::grammar
