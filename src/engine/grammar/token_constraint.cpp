#include "engine/grammar/token_constraint.h"

#include <algorithm>
#include <limits>

#include "engine/tokenizer/tokenizer.h"

namespace agentd::engine::grammar {

TokenVocabulary::TokenVocabulary(std::vector<std::string> pieces, std::vector<int32_t> end_ids)
    : pieces_(std::move(pieces)), end_ids_(std::move(end_ids)) {
  std::sort(end_ids_.begin(), end_ids_.end());
  end_ids_.erase(std::unique(end_ids_.begin(), end_ids_.end()), end_ids_.end());
  std::vector<int32_t> order;
  for (size_t id = 0; id < pieces_.size(); ++id) {
    if (!pieces_[id].empty() && !is_end(static_cast<int32_t>(id))) order.push_back(static_cast<int32_t>(id));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const std::string& pa = pieces_[static_cast<size_t>(a)];
    const std::string& pb = pieces_[static_cast<size_t>(b)];
    return pa != pb ? pa < pb : a < b;
  });
  trie_.push_back(TrieNode{});
  std::vector<uint32_t> path = {0};  // node index by depth
  const std::string* previous = nullptr;
  for (int32_t id : order) {
    const std::string& p = pieces_[static_cast<size_t>(id)];
    size_t common = 0;
    if (previous != nullptr) {
      while (common < p.size() && common < previous->size() && p[common] == (*previous)[common]) ++common;
    }
    while (path.size() > common + 1) {
      trie_[path.back()].skip = static_cast<uint32_t>(trie_.size());
      path.pop_back();
    }
    for (size_t k = common; k < p.size(); ++k) {
      TrieNode n;
      n.byte = static_cast<uint8_t>(p[k]);
      n.depth = static_cast<uint16_t>(std::min<size_t>(k + 1, std::numeric_limits<uint16_t>::max()));
      n.tokens_begin = n.tokens_end = static_cast<uint32_t>(token_ids_.size());
      path.push_back(static_cast<uint32_t>(trie_.size()));
      trie_.push_back(n);
      max_depth_ = std::max(max_depth_, n.depth);
    }
    token_ids_.push_back(id);
    trie_[path.back()].tokens_end = static_cast<uint32_t>(token_ids_.size());
    previous = &p;
  }
  while (!path.empty()) {
    trie_[path.back()].skip = static_cast<uint32_t>(trie_.size());
    path.pop_back();
  }
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::from_tokenizer(const Tokenizer& tokenizer) {
  std::vector<std::string> pieces(static_cast<size_t>(tokenizer.n_vocab()));
  for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) pieces[static_cast<size_t>(id)] = tokenizer.token_to_piece(id);
  const auto& eog = tokenizer.end_of_generation_ids();
  return std::make_shared<TokenVocabulary>(std::move(pieces), std::vector<int32_t>(eog.begin(), eog.end()));
}

bool TokenVocabulary::is_end(int32_t id) const { return std::binary_search(end_ids_.begin(), end_ids_.end(), id); }

TokenConstraint::TokenConstraint(std::shared_ptr<const Grammar> grammar,
                                 std::shared_ptr<const TokenVocabulary> vocabulary, size_t mask_cache_bytes)
    : automaton_(std::move(grammar)), vocabulary_(std::move(vocabulary)) {
  words_ = (static_cast<size_t>(vocabulary_->size()) + 31) / 32;
  max_masks_ = std::max<size_t>(16, mask_cache_bytes / std::max<size_t>(1, words_ * sizeof(uint32_t)));
  walk_states_.resize(static_cast<size_t>(vocabulary_->max_depth_) + 1);
}

int32_t TokenConstraint::start() {
  std::lock_guard lock(mu_);
  return automaton_.start();
}

template <typename Visit>
void TokenConstraint::walk(int32_t state, Visit&& visit) {
  const auto& trie = vocabulary_->trie_;
  const auto& ids = vocabulary_->token_ids_;
  walk_states_[0] = state;
  size_t i = 1;
  while (i < trie.size()) {
    const auto& n = trie[i];
    const int32_t next = automaton_.next(walk_states_[n.depth - 1u], n.byte);
    if (next == Automaton::kDead) {
      i = n.skip;
      continue;
    }
    walk_states_[n.depth] = next;
    for (uint32_t k = n.tokens_begin; k < n.tokens_end; ++k) visit(ids[k], next);
    ++i;
  }
}

TokenConstraint::Mask& TokenConstraint::mask(int32_t state) {
  auto it = masks_.find(state);
  if (it != masks_.end()) {
    ++stats_.mask_cache_hits;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second;
  }
  ++stats_.masks_computed;
  while (masks_.size() >= max_masks_) {
    masks_.erase(lru_.back());
    lru_.pop_back();
  }
  Mask m;
  m.bits.assign(words_, 0);
  walk(state, [&](int32_t id, int32_t end) {
    m.bits[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
    ++m.count;
    m.max_after = std::max(m.max_after, automaton_.min_bytes_to_accept(end));
  });
  if (automaton_.accepting(state)) {
    for (int32_t id : vocabulary_->end_ids()) {
      if (id < 0 || id >= vocabulary_->size()) continue;
      m.bits[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
      ++m.count;
    }
  }
  lru_.push_front(state);
  m.lru = lru_.begin();
  return masks_.emplace(state, std::move(m)).first->second;
}

int64_t TokenConstraint::allowed(int32_t state, int64_t tokens_left, std::vector<uint32_t>& bits) {
  std::lock_guard lock(mu_);
  const Mask& m = mask(state);
  if (tokens_left == kNoBudget || tokens_left - 1 >= m.max_after) {
    bits = m.bits;
    return m.count;
  }
  // Tight: keep the tokens whose completion fits what is left.
  ++stats_.budget_masks;
  std::vector<std::pair<int32_t, int32_t>> need;  // (token, bytes its end state needs)
  int32_t fewest = std::numeric_limits<int32_t>::max();
  walk(state, [&](int32_t id, int32_t end) {
    const int32_t n = automaton_.min_bytes_to_accept(end);
    need.emplace_back(id, n);
    fewest = std::min(fewest, n);
  });
  const bool accepting = automaton_.accepting(state);
  if (accepting) fewest = 0;
  const int64_t limit = std::max<int64_t>(tokens_left - 1, fewest);
  bits.assign(words_, 0);
  int64_t count = 0;
  for (auto [id, n] : need) {
    if (n > limit) continue;
    bits[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
    ++count;
  }
  if (accepting) {
    for (int32_t id : vocabulary_->end_ids()) {
      if (id < 0 || id >= vocabulary_->size()) continue;
      bits[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
      ++count;
    }
  }
  return count;
}

int32_t TokenConstraint::advance(int32_t state, int32_t token) {
  std::lock_guard lock(mu_);
  if (token < 0 || token >= vocabulary_->size()) return kDead;
  if (vocabulary_->is_end(token)) return automaton_.accepting(state) ? state : kDead;
  const std::string& piece = vocabulary_->piece(token);
  if (piece.empty()) return kDead;
  return automaton_.next(state, piece);
}

bool TokenConstraint::accepting(int32_t state) {
  std::lock_guard lock(mu_);
  return automaton_.accepting(state);
}

bool TokenConstraint::closed(int32_t state) {
  std::lock_guard lock(mu_);
  return automaton_.accepting(state) && automaton_.closed(state);
}

bool TokenConstraint::overflowed() {
  std::lock_guard lock(mu_);
  return automaton_.overflowed();
}

TokenConstraint::Stats TokenConstraint::stats() {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.states = automaton_.state_count();
  return s;
}

}  // namespace agentd::engine::grammar
