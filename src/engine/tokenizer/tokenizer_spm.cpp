// SentencePiece-style tokenization (llama.cpp's llm_tokenizer_spm): start from
// UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is
// the highest-scoring vocabulary entry (leftmost on ties), then emit each
// symbol's token, or its bytes as <0xXX> tokens when it has none.

#include <map>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace agentd::engine {

namespace {

struct Symbol {
  int prev;
  int next;
  size_t offset;  // into the text
  size_t n;       // bytes; 0 once merged into the symbol on its left
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t size;
};

struct BigramOrder {
  // Highest score first; on equal scores the leftmost pair.
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void Tokenizer::encode_spm(const std::string& text, std::vector<int32_t>& out) const {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const size_t len = std::min(utf8::sequence_length(static_cast<uint8_t>(text[off])), text.size() - off);
    const int index = static_cast<int>(symbols.size());
    off += len;
    symbols.push_back(Symbol{index - 1, off == text.size() ? -1 : index + 1, off - len, len});
  }
  if (symbols.empty()) return;

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  // Which pair produced a merged text, to split symbols with no token again.
  std::map<std::string, std::pair<int, int>, std::less<>> rev_merge;

  const auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view merged(text.data() + symbols[left].offset, symbols[left].n + symbols[right].n);
    const int32_t id = find_token(merged);
    if (id < 0) return;
    queue.push(Bigram{left, right, tokens_[id].score, merged.size()});
    rev_merge[std::string(merged)] = {left, right};
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

  // Emits a symbol's token, or undoes the merge that made it, or falls back to bytes.
  const auto resegment = [&](auto&& self, const Symbol& sym, int depth) -> void {
    const std::string_view piece(text.data() + sym.offset, sym.n);
    const int32_t id = find_token(piece);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    const auto it = rev_merge.find(piece);
    if (it == rev_merge.end() || depth > 64) {
      for (char c : piece) {
        const int32_t byte_id = byte_to_token(static_cast<uint8_t>(c));
        if (byte_id >= 0) out.push_back(byte_id);
      }
      return;
    }
    self(self, symbols[it->second.first], depth + 1);
    self(self, symbols[it->second.second], depth + 1);
  };
  for (int i = 0; i != -1; i = symbols[i].next) resegment(resegment, symbols[i], 0);
}

}  // namespace agentd::engine
