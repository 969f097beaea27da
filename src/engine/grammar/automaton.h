#pragma once
// The grammar run as a pushdown automaton over bytes, its states built as
// they are first reached (a lazy DFA over sets of stacks).
//
// A stack is a chain of positions: the top points at a byte element to match
// next, the ones below at where each enclosing rule resumes. Stacks are
// interned (equal stacks share one id, tails are shared) and a reference that
// ends its alternative pushes nothing (tail calls), so right-recursive
// repetition runs in constant stack depth. A state is the set of stacks the
// bytes so far can be in; states are interned too, with their byte
// transitions computed once as a short list of byte intervals.
//
// The empty stack means the grammar's root is complete: a state holding it is
// accepting. Every state also knows the fewest bytes that reach an accepting
// state, from Grammar's per-position minimum lengths.
//
// Thread-safety: none; the owner (TokenConstraint) serializes access.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/grammar/grammar.h"

namespace agentd::engine::grammar {

class Automaton {
 public:
  static constexpr int32_t kDead = -1;

  // At most max_states states; past that next() reports kDead and
  // overflowed() turns true (the grammar is too large to run).
  explicit Automaton(std::shared_ptr<const Grammar> grammar, size_t max_states = 1u << 18);

  const Grammar& grammar() const { return *grammar_; }
  int32_t start() const { return start_; }
  // The state after one more byte, or kDead.
  int32_t next(int32_t state, uint8_t byte);
  // The state after every byte of `bytes`, or kDead.
  int32_t next(int32_t state, const std::string& bytes);
  bool accepting(int32_t state) const { return states_[static_cast<size_t>(state)].accepting; }
  // No byte can follow (accepting or not).
  bool closed(int32_t state);
  int32_t min_bytes_to_accept(int32_t state) const { return states_[static_cast<size_t>(state)].min_bytes; }
  bool overflowed() const { return overflowed_; }
  size_t state_count() const { return states_.size(); }

 private:
  struct Node {
    int32_t pos;     // element index; -1 for the empty stack
    int32_t parent;  // node below, 0 = the empty stack
  };
  struct Interval {
    uint8_t lo, hi;
    int32_t target;
  };
  struct State {
    std::vector<int32_t> nodes;  // sorted: stacks whose top is a byte element, 0 when accepting
    bool accepting = false;
    int32_t min_bytes = 0;
    bool expanded = false;
    std::vector<Interval> transitions;  // sorted, when expanded
    // The same as one target per byte, for the first kDenseStates states
    // (the token-mask walk looks a byte up per trie node).
    std::unique_ptr<int32_t[]> dense;
  };
  static constexpr size_t kDenseStates = 1u << 15;  // 1 KiB each
  struct NodesHash {
    size_t operator()(const std::vector<int32_t>& v) const;
  };

  int32_t node(int32_t pos, int32_t parent);
  void closure(int32_t node, std::vector<int32_t>& out);
  int32_t intern(std::vector<int32_t> nodes);
  void expand(int32_t state);

  std::shared_ptr<const Grammar> grammar_;
  size_t max_states_;
  bool overflowed_ = false;
  std::vector<Node> nodes_;
  std::vector<int32_t> node_min_;  // fewest bytes to empty the stack
  std::unordered_map<uint64_t, int32_t> node_ids_;
  std::vector<State> states_;
  std::unordered_map<std::vector<int32_t>, int32_t, NodesHash> state_ids_;
  std::vector<uint32_t> seen_;  // closure() visit stamps, by node
  uint32_t stamp_ = 0;
  static constexpr int kMaxClosureDepth = 4000;
  int closure_depth_ = 0;
  int32_t start_ = kDead;
};

}  // namespace agentd::engine::grammar
