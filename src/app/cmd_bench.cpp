// `agentd bench --model PATH [--threads N] [--prompt-tokens N] [--gen-tokens N]
//   [--batch B] [--repetitions R] [--isa scalar|avx2|avx512] [--json]`
// Measures the engine on one model, the way a run uses it:
//   pp: one N-token prompt through one batched forward (prefill);
//   tg: then N tokens generated one step at a time, each step feeding back
//       the greedy token. With --batch B, B sequences (each with its own
//       prompt, prefilled untimed) are decoded together, one forward per
//       step, and tg counts the tokens of all of them.
// With --batch B > 1 every repetition also decodes one sequence alone, right
// before or after the batch (the order alternates), and the batch's speedup
// is reported against that: a baseline from the same minutes, since a shared
// machine's speed drifts between runs minutes apart.
// A warm-up pass (short prompt, two steps) runs first so page faults of the
// mapping, thread start-up and scratch buffers stay out of the figures. With
// --repetitions R the figures are means over R runs. --isa runs the kernels
// of a lesser instruction set than the CPU's best (how a CPU without AVX-512
// would run); asking for more than the CPU has is an error.
//
// --json prints one object:
//   {"pp_tokens_per_s": X, "tg_tokens_per_s": Y, "batch": B, "rss_bytes": M,
//    "threads": T, "prompt_tokens": N, "gen_tokens": G, "isa": "avx2", "model": "..."}
// and with B > 1 also "single_tg_tokens_per_s" (the one-sequence tg of the
// same run) and "batch_speedup" (tg_tokens_per_s / single_tg_tokens_per_s).
// rss_bytes is the peak resident set of the process (weights touched through
// the mapping included). Otherwise a small table is printed.

#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "engine/kernels/kernels.h"
#include "engine/model.h"
#include "engine/thread_pool.h"

namespace agentd::app {

namespace {

struct BenchOptions {
  std::string model;
  int threads = 0;
  int64_t prompt_tokens = 128;
  int64_t gen_tokens = 64;
  int64_t batch = 1;
  int repetitions = 1;
  bool json = false;
  std::string isa;  // "" = the CPU's best
};

struct Timing {
  double pp_seconds = 0;
  double tg_seconds = 0;
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Token ids for sequence `seq`: a fixed pseudo-random walk over the vocabulary
// (ids 0..2 are usually unk/bos/eos and are skipped when the vocabulary allows).
std::vector<int32_t> prompt_ids(int64_t n, int64_t seq, int64_t n_vocab) {
  const int64_t lo = n_vocab > 3 ? 3 : 0;
  const auto span = static_cast<uint64_t>(n_vocab - lo);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  uint64_t x = 0x2545F4914F6CDD1DULL * static_cast<uint64_t>(seq + 1);
  for (auto& id : ids) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    id = static_cast<int32_t>(lo + static_cast<int64_t>(x % span));
  }
  return ids;
}

int32_t argmax(const float* row, int64_t n) {
  return static_cast<int32_t>(std::max_element(row, row + n) - row);
}

// One pass: prefill of sequence 0 (timed), of the others (untimed), then
// `gen` decode steps over all `batch` sequences (timed).
StatusOr<Timing> run_once(const engine::Model& model, engine::ThreadPool& pool, int64_t prompt, int64_t gen,
                          int64_t batch) {
  const int64_t n_vocab = model.config().n_vocab;
  std::vector<std::unique_ptr<engine::KvCache>> caches;
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t s = 0; s < batch; ++s) {
    caches.push_back(model.new_cache(prompt + gen));
    caches.back()->reserve(prompt + gen);  // as a decoding does (kv_cache.h)
    prompts.push_back(prompt_ids(prompt, s, n_vocab));
  }
  std::vector<float> logits;
  std::vector<int32_t> next(static_cast<size_t>(batch));
  Timing t;

  engine::SequenceBatch first{caches[0].get(), prompts[0], false};
  const auto t0 = Clock::now();
  AGENTD_RETURN_IF_ERROR(model.forward(std::span(&first, 1), logits, &pool));
  t.pp_seconds = seconds_since(t0);
  next[0] = argmax(logits.data(), n_vocab);

  if (batch > 1) {
    std::vector<engine::SequenceBatch> rest;
    for (int64_t s = 1; s < batch; ++s) rest.push_back({caches[s].get(), prompts[s], false});
    AGENTD_RETURN_IF_ERROR(model.forward(rest, logits, &pool));
    for (int64_t s = 1; s < batch; ++s) next[s] = argmax(logits.data() + (s - 1) * n_vocab, n_vocab);
  }

  std::vector<engine::SequenceBatch> step(static_cast<size_t>(batch));
  const auto t1 = Clock::now();
  for (int64_t i = 0; i < gen; ++i) {
    for (int64_t s = 0; s < batch; ++s) step[s] = {caches[s].get(), std::span(&next[s], 1), false};
    AGENTD_RETURN_IF_ERROR(model.forward(step, logits, &pool));
    for (int64_t s = 0; s < batch; ++s) next[s] = argmax(logits.data() + s * n_vocab, n_vocab);
  }
  t.tg_seconds = seconds_since(t1);
  return t;
}

uint64_t peak_rss_bytes() {
  struct rusage ru {};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

int fail(const Status& s) {
  std::fprintf(stderr, "agentd bench: %s\n", s.to_string().c_str());
  return 1;
}

int run_bench(const BenchOptions& o) {
  if (!o.isa.empty()) {
    const engine::Isa want = engine::parse_isa(o.isa).value_or(engine::Isa::kAvx512);
    if (want > engine::detected_isa()) {
      return fail(Status::invalid_argument("--isa " + o.isa + ": this CPU's best is " +
                                           engine::isa_name(engine::detected_isa())));
    }
    engine::set_active_isa(want);
  }
  auto loaded = engine::Model::load(o.model);
  if (!loaded.is_ok()) return fail(loaded.status());
  const engine::Model& model = **loaded;
  const int64_t ctx = model.config().n_ctx_train;
  if (o.prompt_tokens + o.gen_tokens > ctx) {
    return fail(Status::invalid_argument("--prompt-tokens + --gen-tokens = " +
                                         std::to_string(o.prompt_tokens + o.gen_tokens) +
                                         " exceed the model's context length " + std::to_string(ctx)));
  }
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  engine::ThreadPool pool(threads);

  // Warm-up: touches every weight, starts the workers, sizes the buffers.
  auto warm = run_once(model, pool, std::min<int64_t>(o.prompt_tokens, 16), std::min<int64_t>(o.gen_tokens, 2),
                       o.batch);
  if (!warm.is_ok()) return fail(warm.status());

  double pp = 0, tg = 0, tg_single = 0;
  const bool baseline = o.batch > 1;
  for (int r = 0; r < o.repetitions; ++r) {
    auto single = [&]() -> Status {
      auto t = run_once(model, pool, o.prompt_tokens, o.gen_tokens, 1);
      if (!t.is_ok()) return t.status();
      tg_single += t->tg_seconds;
      return Status::ok();
    };
    if (baseline && r % 2 == 1) {
      if (Status s = single(); !s.is_ok()) return fail(s);
    }
    auto t = run_once(model, pool, o.prompt_tokens, o.gen_tokens, o.batch);
    if (!t.is_ok()) return fail(t.status());
    pp += t->pp_seconds;
    tg += t->tg_seconds;
    if (baseline && r % 2 == 0) {
      if (Status s = single(); !s.is_ok()) return fail(s);
    }
  }
  const double reps = o.repetitions;
  auto rate = [&](double tokens, double seconds) { return seconds > 0 && tokens > 0 ? tokens * reps / seconds : 0.0; };
  const double pp_rate = rate(static_cast<double>(o.prompt_tokens), pp);
  const double tg_rate = rate(static_cast<double>(o.gen_tokens * o.batch), tg);
  const double single_rate = rate(static_cast<double>(o.gen_tokens), tg_single);
  const double speedup = single_rate > 0 ? tg_rate / single_rate : 0.0;
  const uint64_t rss = peak_rss_bytes();
  const char* isa = engine::isa_name(engine::active_isa());

  if (o.json) {
    boost::json::object out;
    out["pp_tokens_per_s"] = pp_rate;
    out["tg_tokens_per_s"] = tg_rate;
    out["batch"] = o.batch;
    out["rss_bytes"] = rss;
    out["threads"] = threads;
    out["prompt_tokens"] = o.prompt_tokens;
    out["gen_tokens"] = o.gen_tokens;
    out["isa"] = isa;
    out["model"] = o.model;
    if (baseline) {
      out["single_tg_tokens_per_s"] = single_rate;
      out["batch_speedup"] = speedup;
    }
    std::printf("%s\n", boost::json::serialize(out).c_str());
    return 0;
  }
  const auto& c = model.config();
  std::printf("model   %s\n", o.model.c_str());
  std::printf("        %s, dim %lld, %lld layers, %lld heads (%lld kv), ffn %lld, vocab %lld\n",
              c.architecture.c_str(), static_cast<long long>(c.n_embd), static_cast<long long>(c.n_layer),
              static_cast<long long>(c.n_head), static_cast<long long>(c.n_head_kv), static_cast<long long>(c.n_ff),
              static_cast<long long>(c.n_vocab));
  std::printf("threads %d, isa %s, repetitions %d\n\n", threads, isa, o.repetitions);
  std::printf("%-8s %6s %12s\n", "test", "batch", "tokens/s");
  std::printf("%-8s %6lld %12.2f\n", ("pp" + std::to_string(o.prompt_tokens)).c_str(), 1LL, pp_rate);
  const std::string tg_name = "tg" + std::to_string(o.gen_tokens);
  if (baseline) std::printf("%-8s %6lld %12.2f\n", tg_name.c_str(), 1LL, single_rate);
  std::printf("%-8s %6lld %12.2f\n", tg_name.c_str(), static_cast<long long>(o.batch), tg_rate);
  if (baseline) {
    std::printf("\n%lld sequences together: %.2fx the tokens/s of one (measured in the same run)\n",
                static_cast<long long>(o.batch), speedup);
  }
  std::printf("\npeak RSS %.1f MiB\n", static_cast<double>(rss) / (1024.0 * 1024.0));
  return 0;
}

}  // namespace

void register_bench(CLI::App& app) {
  auto opt = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed on a GGUF model");
  cmd->add_option("--model,-m", opt->model, "GGUF model file")->required();
  cmd->add_option("--threads,-t", opt->threads, "Worker threads (default: all cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--prompt-tokens,-p", opt->prompt_tokens, "Prompt length for pp (default 128)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--gen-tokens,-n", opt->gen_tokens, "Tokens generated for tg (default 64)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--batch,-b", opt->batch, "Sequences decoded together in tg (default 1)")
      ->check(CLI::Range(int64_t{1}, int64_t{256}));
  cmd->add_option("--repetitions,-r", opt->repetitions, "Measured runs averaged (default 1)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--isa", opt->isa, "Kernels to use: scalar, avx2 or avx512 (default: the CPU's best)")
      ->check(CLI::IsMember({"scalar", "avx2", "avx512"}));
  cmd->add_flag("--json", opt->json, "Print one JSON object");
  cmd->callback([opt] { exit_code() = run_bench(*opt); });
}

}  // namespace agentd::app
