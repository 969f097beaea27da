// Byte-level BPE (llama.cpp's llm_tokenizer_bpe): the pre-tokenizer cuts the
// text into byte-encoded words; within each word, starting from characters,
// the adjacent pair with the lowest merge rank is merged (leftmost on ties)
// until no ranked pair is left; each final symbol is a vocabulary token.

#include <queue>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace agentd::engine {

namespace {

struct Symbol {
  int prev;
  int next;
  size_t offset;  // into the word
  size_t n;       // bytes; 0 once merged into the symbol on its left
};

struct Bigram {
  int left;
  int right;
  int32_t rank;
  size_t size;
};

struct BigramOrder {
  // Lowest rank first; on equal ranks the leftmost pair.
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

void Tokenizer::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
  const std::vector<std::string> words = pre_->split(text);
  std::vector<Symbol> symbols;
  for (const std::string& word : words) {
    if (word.empty()) continue;
    if (ignore_merges_) {
      const int32_t id = find_token(word);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
    }
    symbols.clear();
    for (size_t off = 0; off < word.size();) {
      const size_t len = std::min(utf8::sequence_length(static_cast<uint8_t>(word[off])), word.size() - off);
      const int index = static_cast<int>(symbols.size());
      off += len;
      symbols.push_back(Symbol{index - 1, off == word.size() ? -1 : index + 1, off - len, len});
    }

    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
    const auto try_add = [&](int left, int right) {
      if (left < 0 || right < 0) return;
      const std::string_view l(word.data() + symbols[left].offset, symbols[left].n);
      const std::string_view r(word.data() + symbols[right].offset, symbols[right].n);
      const int32_t rank = find_bpe_rank(l, r);
      if (rank < 0) return;
      queue.push(Bigram{left, right, rank, l.size() + r.size()});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);

    while (!queue.empty()) {
      const Bigram b = queue.top();
      queue.pop();
      Symbol& left = symbols[b.left];
      Symbol& right = symbols[b.right];
      // Stale: one side was merged away or grew since this pair was queued.
      if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;
      left.n += right.n;
      right.n = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = b.left;
      try_add(left.prev, b.left);
      try_add(b.left, left.next);
    }

    for (int i = 0; i != -1; i = symbols[i].next) {
      const std::string_view piece(word.data() + symbols[i].offset, symbols[i].n);
      const int32_t id = find_token(piece);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      // No token for the symbol: its single bytes where they are tokens
      // (llama.cpp drops the rest).
      for (char c : piece) {
        const int32_t byte_id = find_token(std::string_view(&c, 1));
        if (byte_id >= 0) out.push_back(byte_id);
      }
    }
  }
}

}  // namespace agentd::engine
