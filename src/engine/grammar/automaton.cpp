#include "engine/grammar/automaton.h"

#include <algorithm>
#include <limits>

namespace agentd::engine::grammar {

namespace {
constexpr int32_t kInfinite = std::numeric_limits<int32_t>::max();
int32_t add_saturating(int32_t a, int32_t b) {
  return (a == kInfinite || b == kInfinite || a > kInfinite - b) ? kInfinite : a + b;
}
}  // namespace

size_t Automaton::NodesHash::operator()(const std::vector<int32_t>& v) const {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int32_t x : v) {
    h ^= static_cast<uint32_t>(x);
    h *= 0x100000001b3ull;
  }
  return static_cast<size_t>(h ^ (h >> 29));
}

Automaton::Automaton(std::shared_ptr<const Grammar> grammar, size_t max_states)
    : grammar_(std::move(grammar)), max_states_(max_states) {
  nodes_.push_back(Node{-1, 0});  // the empty stack
  node_min_.push_back(0);
  std::vector<int32_t> start;
  for (int32_t a : grammar_->alternatives(grammar_->root())) closure(node(a, 0), start);
  start_ = intern(std::move(start));
}

int32_t Automaton::node(int32_t pos, int32_t parent) {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) | static_cast<uint32_t>(parent);
  auto [it, added] = node_ids_.try_emplace(key, static_cast<int32_t>(nodes_.size()));
  if (added) {
    nodes_.push_back(Node{pos, parent});
    node_min_.push_back(add_saturating(grammar_->min_bytes_from(pos), node_min_[static_cast<size_t>(parent)]));
  }
  return it->second;
}

// Adds to `out` the stacks `id` stands for once every reference on top is
// expanded and every finished alternative popped.
void Automaton::closure(int32_t id, std::vector<int32_t>& out) {
  // Chains of empty alternatives (a repeated group that can match nothing)
  // recurse once per link: past kMaxClosureDepth the grammar counts as too
  // large rather than overflowing the stack.
  if (closure_depth_ >= kMaxClosureDepth) {
    overflowed_ = true;
    return;
  }
  ++closure_depth_;
  struct Leave {
    int& d;
    ~Leave() { --d; }
  } leave{closure_depth_};
  if (seen_.size() < nodes_.size()) seen_.resize(nodes_.size() * 2, 0);
  if (seen_[static_cast<size_t>(id)] == stamp_ + 1) return;
  seen_[static_cast<size_t>(id)] = stamp_ + 1;
  if (id == 0) {
    out.push_back(0);
    return;
  }
  const Node n = nodes_[static_cast<size_t>(id)];
  const auto& el = grammar_->elements();
  const Element& e = el[static_cast<size_t>(n.pos)];
  switch (e.kind) {
    case Element::kBytes:
      out.push_back(id);
      return;
    case Element::kEnd:
      closure(n.parent, out);
      return;
    case Element::kRule: {
      // Where the rule returns to; nothing to push when it ends the alternative.
      const int32_t cont = el[static_cast<size_t>(n.pos) + 1].kind == Element::kEnd ? n.parent : node(n.pos + 1, n.parent);
      for (int32_t a : grammar_->alternatives(e.rule)) closure(node(a, cont), out);
      return;
    }
  }
}

int32_t Automaton::intern(std::vector<int32_t> nodes) {
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  if (nodes.empty()) return kDead;
  auto it = state_ids_.find(nodes);
  if (it != state_ids_.end()) return it->second;
  if (states_.size() >= max_states_) {
    overflowed_ = true;
    return kDead;
  }
  State s;
  s.accepting = nodes.front() == 0;
  s.min_bytes = kInfinite;
  for (int32_t x : nodes) s.min_bytes = std::min(s.min_bytes, node_min_[static_cast<size_t>(x)]);
  s.nodes = nodes;
  const auto id = static_cast<int32_t>(states_.size());
  states_.push_back(std::move(s));
  state_ids_.emplace(std::move(nodes), id);
  return id;
}

void Automaton::expand(int32_t state) {
  const auto& el = grammar_->elements();
  // Byte intervals on which the same stacks match.
  std::vector<int> bounds = {0, 256};
  for (int32_t x : states_[static_cast<size_t>(state)].nodes) {
    if (x == 0) continue;
    const Element& e = el[static_cast<size_t>(nodes_[static_cast<size_t>(x)].pos)];
    bounds.push_back(e.lo);
    bounds.push_back(e.hi + 1);
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::vector<Interval> transitions;
  const std::vector<int32_t> from = states_[static_cast<size_t>(state)].nodes;  // intern() may grow states_
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    const int lo = bounds[i], hi = bounds[i + 1] - 1;
    std::vector<int32_t> next;
    ++stamp_;
    for (int32_t x : from) {
      if (x == 0) continue;
      const Node n = nodes_[static_cast<size_t>(x)];
      const Element& e = el[static_cast<size_t>(n.pos)];
      if (e.lo <= lo && hi <= e.hi) closure(node(n.pos + 1, n.parent), next);
    }
    if (next.empty()) continue;
    const int32_t target = intern(std::move(next));
    if (target == kDead) continue;
    transitions.push_back(Interval{static_cast<uint8_t>(lo), static_cast<uint8_t>(hi), target});
  }
  State& s = states_[static_cast<size_t>(state)];
  if (static_cast<size_t>(state) < kDenseStates) {
    s.dense = std::make_unique<int32_t[]>(256);
    std::fill(s.dense.get(), s.dense.get() + 256, kDead);
    for (const Interval& t : transitions) std::fill(s.dense.get() + t.lo, s.dense.get() + t.hi + 1, t.target);
  }
  s.transitions = std::move(transitions);
  s.expanded = true;
}

int32_t Automaton::next(int32_t state, uint8_t byte) {
  if (!states_[static_cast<size_t>(state)].expanded) expand(state);
  const State& s = states_[static_cast<size_t>(state)];
  if (s.dense) return s.dense[byte];
  for (const Interval& t : s.transitions) {
    if (byte < t.lo) break;
    if (byte <= t.hi) return t.target;
  }
  return kDead;
}

int32_t Automaton::next(int32_t state, const std::string& bytes) {
  for (char c : bytes) {
    state = next(state, static_cast<uint8_t>(c));
    if (state == kDead) return kDead;
  }
  return state;
}

bool Automaton::closed(int32_t state) {
  if (!states_[static_cast<size_t>(state)].expanded) expand(state);
  return states_[static_cast<size_t>(state)].transitions.empty();
}

}  // namespace agentd::engine::grammar
