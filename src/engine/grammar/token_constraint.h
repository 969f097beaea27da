#pragma once
// Grammar-constrained sampling at the token level: which tokens of the
// vocabulary keep the output a valid prefix of the grammar.
//
// TokenVocabulary holds each token's bytes in a trie laid out in depth-first
// order, so a mask is one forward scan of the trie that skips every subtree
// whose first byte the automaton refuses. TokenConstraint pairs a grammar's
// automaton with a vocabulary and caches one mask per automaton state (the
// states inside a free string repeat, so most steps are a cache hit).
//
// Within a budget: a mask may be asked for with the tokens left. A token is
// then allowed only when the bytes its end state still needs fit in the
// tokens left after it (one byte per token at worst: byte-level and
// byte-fallback vocabularies have a token for every byte), so sampling
// within max_tokens always ends with a complete answer. When even the
// shortest completion no longer fits, the tokens that come closest are kept.
//
// End-of-generation tokens are allowed exactly when the grammar is complete;
// control tokens (no bytes) never are.
//
// Thread-safety: TokenVocabulary is immutable. TokenConstraint's methods may
// be called from any number of threads (one mutex); a sequence keeps its own
// state id.

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/grammar/automaton.h"
#include "engine/grammar/grammar.h"

namespace agentd::engine {
class Tokenizer;
}

namespace agentd::engine::grammar {

class TokenVocabulary {
 public:
  // pieces[id] = the bytes the token adds to the text ("" for control tokens).
  TokenVocabulary(std::vector<std::string> pieces, std::vector<int32_t> end_ids);
  static std::shared_ptr<const TokenVocabulary> from_tokenizer(const Tokenizer& tokenizer);

  int32_t size() const { return static_cast<int32_t>(pieces_.size()); }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  const std::vector<int32_t>& end_ids() const { return end_ids_; }
  bool is_end(int32_t id) const;

 private:
  friend class TokenConstraint;
  struct TrieNode {
    uint8_t byte = 0;
    uint16_t depth = 0;      // bytes from the root (the root is depth 0)
    uint32_t skip = 0;       // the next node outside this subtree
    uint32_t tokens_begin = 0, tokens_end = 0;  // ids whose bytes end here, in token_ids_
  };
  std::vector<std::string> pieces_;
  std::vector<int32_t> end_ids_;
  std::vector<TrieNode> trie_;  // depth-first order, trie_[0] the root
  std::vector<int32_t> token_ids_;
  uint16_t max_depth_ = 0;
};

class TokenConstraint {
 public:
  static constexpr int32_t kDead = Automaton::kDead;
  // No budget: the whole mask.
  static constexpr int64_t kNoBudget = -1;

  TokenConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocabulary,
                  size_t mask_cache_bytes = 64u << 20);

  const TokenVocabulary& vocabulary() const { return *vocabulary_; }
  int32_t start();
  // Sets `bits` (bit i of word i/32 = token i) to the tokens allowed in
  // `state` with tokens_left more tokens to generate (this one included).
  // Returns the number allowed (0: the grammar cannot go on).
  int64_t allowed(int32_t state, int64_t tokens_left, std::vector<uint32_t>& bits);
  // The state after `token`; kDead if the token does not fit. An
  // end-of-generation token keeps an accepting state.
  int32_t advance(int32_t state, int32_t token);
  bool accepting(int32_t state);
  // The grammar is complete and nothing more can follow.
  bool closed(int32_t state);
  bool overflowed();

  struct Stats {
    int64_t masks_computed = 0;
    int64_t mask_cache_hits = 0;
    int64_t budget_masks = 0;
    size_t states = 0;
  };
  Stats stats();

 private:
  struct Mask {
    std::vector<uint32_t> bits;
    int64_t count = 0;
    int32_t max_after = 0;  // the most bytes an allowed token's end state still needs
    std::list<int32_t>::iterator lru;
  };
  // One scan of the trie from `state`; calls visit(token, end_state) per
  // allowed token with bytes.
  template <typename Visit>
  void walk(int32_t state, Visit&& visit);
  Mask& mask(int32_t state);  // cached

  std::mutex mu_;
  Automaton automaton_;
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  size_t words_;
  size_t max_masks_;
  std::unordered_map<int32_t, Mask> masks_;
  std::list<int32_t> lru_;  // most recent first
  std::vector<int32_t> walk_states_;
  Stats stats_;
};

}  // namespace agentd::engine::grammar
