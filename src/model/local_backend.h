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
// Scheduling (continuous batching): one engine thread runs every admitted
// request. Each step it builds one Model::forward batch from one decode token
// of every running sequence plus prompt tokens of sequences still prefilling
// (at most kPrefillTokensPerStep per step, so running sequences keep
// streaming while a long prompt goes in), samples each sequence's row, ends
// finished and cancelled sequences and admits waiting requests while fewer
// than `parallel` are in flight. At most `queue_depth` requests wait; one more
// is kUnavailable("engine queue full"). A request gives the same tokens alone
// or in a batch (greedy, or with the same seed).
//
// The caller's thread blocks in generate() until its request is done and
// runs on_chunk itself with the text the engine produced meanwhile (pieces
// may be merged), so a slow client never stalls the batch; once on_chunk
// returns false the sequence is dropped at the next step and generate()
// returns its Generation so far with finish_reason "cancelled" (the tokens
// the engine sampled until then, handed out or not). A request is in flight
// from admission until its generate() returns.
//
// KV cache reuse: after a turn with a non-empty cache_key the sequence's
// KvCache is kept (LRU, at most cache_bytes in total) so the next turn of the
// conversation only processes its new tokens.
//
// Prefix sharing: runs of one agent start with the same rendered
// instructions. When a request starts, its own kept cache (if any) is
// compared with donors: every kept cache (looked at, not taken), the last
// few caches of requests without a cache_key (kept as keyless donors in the
// same budget and LRU) and the committed positions of sequences running in
// the engine. When a donor shares a longer token prefix with the prompt,
// that prefix's keys and values are copied into the request's cache and only
// the rest is computed. A donor is never handed over as a session: only
// positions whose token ids equal the request's own prompt are copied, and
// the keys and values of a position are a function of the tokens up to it
// (same model, same tokens => same bits), so the copy tells the request
// nothing it did not send itself; the donor is left unchanged. Requests
// that arrive together (a burst of runs of one agent) would all compute the
// shared instructions at once: a request whose prompt shares at least
// kMinSharedToWait more tokens with a sequence still prefilling them than
// any kept cache offers waits, admitted but not started, until those
// positions are committed, then copies them. (Like any
// shared prompt cache, a faster first token can tell a client that the
// same prefix was sent recently.) The output is the same as without sharing
// (greedy, or with the same seed).
//
// ModelSpec::share_prefixes = false turns prefix sharing off: a request
// then only reuses its own session's kept cache, and requests without a
// cache_key keep nothing.
//
// Metrics (when set_metrics() gave a registry), labelled {model="<id>"}:
// agentd_kv_cache_hits_total (a turn with a cache_key found its own kept
// cache with a reusable prefix), agentd_kv_cache_misses_total (a key and
// nothing reusable of its own), agentd_kv_cache_prefix_hits_total (a request
// started from a donor's prefix), agentd_kv_cache_reused_tokens_total
// (prompt tokens not computed, from either source), agentd_kv_cache_bytes,
// agentd_engine_running_sequences, agentd_engine_queued_requests (waiting,
// not yet admitted), agentd_engine_batch_tokens (histogram of tokens per
// forward step).
//
// Ownership: owns the model, tokenizer, template, thread pool, engine thread
// and kept caches. Thread-safety: every public method may be called from any
// number of threads at once. The destructor fails waiting requests with
// kUnavailable, lets running ones finish, joins the engine thread and waits
// for their callers to return; it must not race with new calls.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "engine/chat_template.h"
#include "engine/generator.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/thread_pool.h"
#include "engine/tokenizer/tokenizer.h"
#include "model/backend.h"
#include "model/kv_cache_store.h"
#include "model/output_constraints.h"
#include "model/prompt_token_cache.h"
#include "model/tool_calls.h"
#include "model/think_filter.h"

namespace agentd::model {

// What Decoding keeps of a cache for a prompt (engine/kv_cache.h).
using engine::reusable_prefix;

class LocalBackend : public ModelBackend {
 public:
  // Prompt tokens fed per engine step, over all sequences still prefilling.
  static constexpr size_t kPrefillTokensPerStep = 256;
  // Shared prompt tokens worth waiting a few steps for (see above).
  static constexpr int64_t kMinSharedToWait = 32;

  // Loads spec.path. Errors name the file.
  static StatusOr<std::unique_ptr<LocalBackend>> create(const ModelSpec& spec);
  ~LocalBackend() override;
  LocalBackend(const LocalBackend&) = delete;
  LocalBackend& operator=(const LocalBackend&) = delete;

  const ModelSpec& spec() const override { return spec_; }
  using ModelBackend::count_prompt_tokens;
  StatusOr<int64_t> count_prompt_tokens(const std::vector<Message>& messages,
                                        const std::vector<ToolSpec>& tools) override;
  StatusOr<int64_t> count_text_tokens(std::string_view text) override;
  bool continues_text() const override { return true; }
  StatusOr<Generation> generate(const GenerationRequest& request, const ChunkCallback& on_chunk) override;
  // json_object and json_schema formats, GBNF grammars and tool calls are
  // enforced by a grammar; what it cannot enforce is kInvalidArgument naming it.
  Status check_output(const GenerationParams& params) override;

  // Plain text's token ids (BOS when the tokenizer adds one; special-token
  // text is not parsed), as generate() feeds GenerationRequest::prompt.
  std::vector<int32_t> tokenize_text(std::string_view text) const;
  // The rendered prompt's token ids (BOS included), as generate() feeds them.
  // Tools (and calls and results in `messages`) go through the model's own
  // template when it writes <tool_call> blocks, else as agentd's text
  // (tool_calls.h).
  StatusOr<std::vector<int32_t>> tokenize_prompt(const std::vector<Message>& messages,
                                                 const std::vector<ToolSpec>& tools = {}) const;
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
  // Requests queued and not yet started, and requests in flight.
  int64_t waiting() const;
  int64_t running() const;
  // Records this backend's metrics in `registry` from now on (nullptr: stop).
  // The registry must outlive the backend or be detached first.
  void set_metrics(MetricsRegistry* registry);

 private:
  // One request, from generate() to its return. The engine thread appends
  // text and sets the result; the caller waits on `cv`.
  struct Job {
    const GenerationRequest* request = nullptr;
    std::vector<int32_t> prompt;
    std::shared_ptr<engine::grammar::TokenConstraint> constraint;  // the output format's, if any
    bool stream = false;          // the caller has an on_chunk
    std::condition_variable cv;
    std::string text;             // produced, not yet handed out; guarded by mu_
    bool cancel = false;          // on_chunk returned false; guarded by mu_
    bool admitted = false;        // counted in in_flight_; guarded by mu_
    bool finished = false;        // guarded by mu_
    StatusOr<Generation> result = Status::internal("not run");  // guarded by mu_
  };
  // A running request; only the engine thread touches it.
  struct Sequence {
    Job* job = nullptr;
    std::unique_ptr<engine::KvCache> cache;
    std::optional<engine::Decoding> decoding;
    std::string text;  // produced this step
    bool cancelled = false;
    std::optional<Status> error;  // forward() failed
  };
  struct Metrics {
    Counter* hits = nullptr;
    Counter* misses = nullptr;
    Counter* reused_tokens = nullptr;
    Counter* prefix_hits = nullptr;
    Gauge* cache_bytes = nullptr;
    Gauge* running = nullptr;
    Gauge* queued = nullptr;
    Histogram* batch_tokens = nullptr;
  };

  LocalBackend(ModelSpec spec, std::unique_ptr<engine::Model> model, std::unique_ptr<engine::Tokenizer> tokenizer,
               engine::ChatTemplate chat_template, bool own_template);
  void engine_loop();
  struct StartCounts {
    int64_t hits = 0, misses = 0, prefix_hits = 0, reused = 0;
  };
  // True when `seq` should wait for a running sequence that is still
  // computing a prefix `seq` can copy (kMinSharedToWait, above).
  bool should_wait(const Sequence& seq, const std::vector<Sequence>& running) const;
  // Starts the admitted job, taking a shared prefix from kept caches or the
  // `running` sequences' committed positions; false (job result set) when it
  // cannot start.
  bool start(Sequence& seq, const std::vector<Sequence>& running, StartCounts& counts);
  // One batched forward over `seqs`; returns the tokens it fed.
  size_t step(std::vector<Sequence>& seqs, std::vector<float>& logits);
  StatusOr<Generation> finish(Sequence& seq);

  const ModelSpec spec_;
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Tokenizer> tokenizer_;
  engine::ChatTemplate template_;
  bool own_template_;
  // The template writes <think> blocks (Qwen3, DeepSeek-R1): answers are
  // handed out without them (think_filter.h).
  bool reasoning_ = false;
  int64_t context_ = 0;  // min(spec.context, the model's trained context)
  std::vector<std::string> warnings_;
  std::string bos_text_, eos_text_;
  std::unique_ptr<engine::ThreadPool> pool_;
  std::unique_ptr<engine::Generator> generator_;
  KvCacheStore caches_;
  PromptTokenCache counted_;  // prompts count_prompt_tokens() tokenized (no tools)
  std::unique_ptr<OutputConstraints> constraints_;
  // How the template writes tool calls, when it renders tools itself; else
  // agentd offers them in the Hermes syntax (tool_calls.h).
  std::optional<ToolSyntax> template_tools_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the engine thread waits for jobs
  std::condition_variable idle_cv_;  // the destructor waits for in_flight_ == 0
  std::deque<Job*> waiting_;         // guarded by mu_
  int in_flight_ = 0;                // admitted, generate() not returned; guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  Metrics metrics_;                  // guarded by mu_
  std::thread engine_thread_;
};

}  // namespace agentd::model
