#pragma once
// JobService: asynchronous runs (Roe async and async/many). A job is stored
// as pending before submit() returns, run by a worker through the
// AgentRunner, and ends as success (result JSON), failure (error) or
// cancelled. Status codes are Roe's: 0 pending, 1 started, 3 success,
// 4 failure, 5 cancelled (store/records.h).
//
// async/many: up to kMaxJobsPerSubmit inputs make one job each, all sharing a
// batch id (Job::batch_id) so the batch can be listed in submission order;
// a single submit of one input has no batch id.
//
// Input to message: a job's inputs are a JSON object; the message is one
// "key:\nvalue" block per member in the object's order, blank-line separated
// (non-string values as JSON text), as a synchronous Roe run writes it, so
// a job answers as the same run would. Result JSON: {"agent_id", "agent_version_id", "inputs" (as
// given), "input_tokens", "output_tokens", "cost" (nano-dollars), "outputs" (the reply text)}.
// With an output schema, a reply that holds no JSON object (answer_object())
// ends the job as a failure, as the synchronous run answers 500.
//
// Restart: start() first recovers. Started jobs were interrupted: one that
// has been started only once goes back to pending (retried once), one
// started twice is marked failed. Then every pending job is queued. No job
// vanishes. With several agentd processes on one database, start them after
// the previous ones have stopped: recovery treats every started job as
// interrupted.
//
// Cancel: a pending job is cancelled at once and never runs. A started job
// is marked cancelled at once too; when it runs in this process its
// generation is stopped at the next chunk: the run is recorded as cancelled
// and charged what the model consumed until then (core/agent_runner.h).
// A job running in another process (shared PostgreSQL) sees the mark
// within kCancelPoll, the next time its generation produces text, and stops
// the same way. Ended jobs cannot be cancelled (kFailedPrecondition).
//
// Jobs run without the submitting key's rate limits (those apply when the
// job is submitted, by the API) but with credits like any run.
//
// Thread-safety: every method may be called from any thread. Borrows the
// runner, store, clock and metrics (they must outlive it); the destructor
// stops the workers, waiting for running jobs.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "core/auth.h"
#include "core/runner.h"
#include "store/store.h"

namespace agentd::core {

inline constexpr size_t kMaxJobsPerSubmit = 1000;
// How often a running job reads its own status from the store (a cancel
// made by another process).
inline constexpr std::chrono::milliseconds kCancelPoll{500};

struct JobOptions {
  size_t workers = 2;
  size_t max_queued = 100000;  // submit() beyond this is kUnavailable
};

class JobService {
 public:
  JobService(AgentRunner& runner, store::Store& store, const Clock& clock, MetricsRegistry& metrics,
             JobOptions options = {});
  ~JobService();
  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  // Recovers interrupted jobs and starts the workers. Once.
  Status start();
  // Stops taking queued jobs and joins the workers (queued jobs stay pending
  // in the store for the next start).
  void stop();

  // One job per element of inputs_json (each a JSON object text), 1 to
  // kMaxJobsPerSubmit of them; kInvalidArgument otherwise or for input that
  // is not a JSON object. The agent must exist and be active (kNotFound).
  // Returns the jobs as stored (pending).
  // `metadata_json`: empty, or one JSON object text per input, stored on
  // its job as given.
  StatusOr<std::vector<store::Job>> submit(const Principal& who, const std::string& agent_id,
                                           const std::string& version_id, const std::vector<std::string>& inputs_json,
                                           const std::vector<std::string>& metadata_json = {});
  StatusOr<store::Job> get(const std::string& org_id, const std::string& job_id);
  StatusOr<std::vector<store::Job>> batch(const std::string& org_id, const std::string& batch_id);
  // Pending or started -> cancelled (see the header comment); returns the job
  // as stored. kNotFound for another organization's job, kFailedPrecondition
  // when it already ended.
  StatusOr<store::Job> cancel(const std::string& org_id, const std::string& job_id);
  // Cancels every pending or started job of the agent; returns how many.
  StatusOr<int64_t> cancel_all(const std::string& org_id, const std::string& agent_id);
  // The agent's jobs, newest first.
  StatusOr<store::JobPage> list(const std::string& org_id, const std::string& agent_id, const store::JobQuery& q);
  // Per agent: how many jobs and the newest one's time.
  StatusOr<std::map<std::string, store::JobStats>> stats(const std::string& org_id);
  // Empties an ended job's inputs, metadata and result; kFailedPrecondition
  // while it is pending or running.
  Status clear_data(const std::string& org_id, const std::string& job_id);

  // Jobs queued in this process and not yet picked up.
  size_t queued() const;

 private:
  void worker();
  void run_job(const store::Job& job);
  void enqueue(store::Job job);  // takes mu_

  AgentRunner& runner_;
  store::Store& store_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  const JobOptions options_;
  Gauge& depth_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<store::Job> queue_;  // guarded by mu_
  // Jobs running in this process -> their stop flag (read by the generation's
  // chunk callback without the lock).
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> running_;  // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  bool started_ = false;          // guarded by mu_
  std::vector<std::thread> workers_;
};

// The message a job's inputs stand for (see the header comment).
StatusOr<std::string> job_message(const std::string& inputs_json);

// The JSON object in a model's answer (models often wrap it in prose or a
// code fence): the text from the first '{' to the last '}', when that parses
// as an object; "" otherwise.
std::string answer_object(const std::string& text);

}  // namespace agentd::core
