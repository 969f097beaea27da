#pragma once
// LocalBackend: a GGUF model run in this process by the engine.
//
// At start it loads the Model, its Tokenizer and the chat template
// (`tokenizer.chat_template`; ChatML when absent or unparsable, with a
// warning in warnings(): the caller logs them, as for Tokenizer::warnings()). A request is rendered with the template (add_generation_prompt),
// tokenized with special tokens parsed, given one BOS when the model wants it
// and the rendered text does not already start with it (as llama.cpp's server
// does), and checked against the context: prompt + max_tokens beyond
// ModelSpec::context (or the trained context when smaller) is
// kInvalidArgument stating both numbers.
//
// Scheduling: `parallel` engine threads (slots) each own one running
// sequence and take the oldest waiting request. At most `queue_depth`
// requests wait; one more is kUnavailable("engine queue full"). The caller's
// thread blocks until its request is done; on_chunk runs on the engine thread.
// (Continuous batching will replace the slots by one loop that advances every
// running sequence with one batched Model::forward; Job and the queue stay.)
//
// KV cache reuse: after a turn with a non-empty cache_key the sequence's
// KvCache is kept (LRU, at most cache_bytes in total) so the next turn of the
// conversation only processes its new tokens.
//
// Ownership: owns the model, tokenizer, template, thread pool, engine threads
// and kept caches. Thread-safety: every public method may be called from any
// number of threads at once. The destructor fails waiting requests with
// kUnavailable, then joins the engine threads; it must not race with new calls.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/chat_template.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/thread_pool.h"
#include "engine/tokenizer.h"
#include "model/backend.h"

namespace agentd::model {

// Keeps KvCaches between turns, by key, within a memory budget (bytes);
// least recently used first out. Thread-safety: all methods are safe to call
// concurrently. A taken cache belongs to the caller until put back.
class KvCacheStore {
 public:
  explicit KvCacheStore(int64_t budget_bytes) : budget_(budget_bytes) {}

  // Removes and returns the cache kept for `key`, or nullptr.
  std::unique_ptr<engine::KvCache> take(const std::string& key);
  // Keeps `cache` as the most recently used for `key` (replacing any), then
  // evicts least recently used caches until the total fits the budget (a
  // cache larger than the whole budget is not kept).
  void put(const std::string& key, std::unique_ptr<engine::KvCache> cache);

  int64_t bytes() const;
  size_t size() const;

 private:
  struct Entry {
    std::string key;
    std::unique_ptr<engine::KvCache> cache;
    int64_t bytes = 0;
  };
  void erase_locked(std::list<Entry>::iterator it);

  const int64_t budget_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recently used; guarded by mu_
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  int64_t bytes_ = 0;  // guarded by mu_
};

class LocalBackend : public ModelBackend {
 public:
  // Loads spec.path. Errors name the file.
  static StatusOr<std::unique_ptr<LocalBackend>> create(const ModelSpec& spec);
  ~LocalBackend() override;
  LocalBackend(const LocalBackend&) = delete;
  LocalBackend& operator=(const LocalBackend&) = delete;

  const ModelSpec& spec() const override { return spec_; }
  StatusOr<int64_t> count_prompt_tokens(const std::vector<Message>& messages) override;
  StatusOr<Generation> generate(const GenerationRequest& request, const ChunkCallback& on_chunk) override;

  // The rendered prompt's token ids (BOS included), as generate() feeds them.
  StatusOr<std::vector<int32_t>> tokenize_prompt(const std::vector<Message>& messages) const;
  // Tokens a prompt plus max_tokens may take: ModelSpec::context, or the
  // model's trained context when that is smaller.
  int64_t context() const { return context_; }
  int64_t context_tokens() const override { return context_; }
  // True when the file's template was used, false for the ChatML fallback.
  bool uses_model_template() const { return own_template_; }
  const KvCacheStore& kept_caches() const { return caches_; }
  // Non-fatal findings at load (no or unparsable template, context beyond
  // the trained one), each naming the model and the file.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Requests queued and not yet started, and requests being generated.
  int64_t waiting() const;
  int64_t running() const;

 private:
  // One queued request. The submitting thread waits on `done`.
  struct Job {
    const GenerationRequest* request = nullptr;
    const ChunkCallback* on_chunk = nullptr;
    std::vector<int32_t> prompt;
    StatusOr<Generation> result = Status::internal("not run");
    bool finished = false;
  };

  LocalBackend(ModelSpec spec, std::unique_ptr<engine::Model> model, std::unique_ptr<engine::Tokenizer> tokenizer,
               engine::ChatTemplate chat_template, bool own_template);
  void engine_loop();
  StatusOr<Generation> run(Job& job);

  const ModelSpec spec_;
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Tokenizer> tokenizer_;
  engine::ChatTemplate template_;
  bool own_template_;
  int64_t context_ = 0;  // min(spec.context, the model's trained context)
  std::vector<std::string> warnings_;
  std::string bos_text_, eos_text_;
  std::unique_ptr<engine::ThreadPool> pool_;
  KvCacheStore caches_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // engine threads wait for jobs
  std::condition_variable done_cv_;  // submitters wait for their job
  std::deque<Job*> waiting_;         // guarded by mu_
  int running_ = 0;                  // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  std::vector<std::thread> engine_threads_;
};

}  // namespace agentd::model
