#include "core/jobs.h"

#include <boost/json.hpp>

#include <chrono>
#include <utility>

#include "common/ids.h"

namespace agentd::core {
namespace {

namespace json = boost::json;

StatusOr<json::object> parse_object(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::invalid_argument("job inputs must be a JSON object");
  return std::move(v.as_object());
}

std::string result_json(const store::Job& job, const RunResult& r) {
  json::object o;
  o["agent_id"] = r.agent.id;
  o["agent_version_id"] = r.version.id;
  auto inputs = parse_object(job.inputs_json);
  o["inputs"] = inputs.is_ok() ? json::value(std::move(inputs).value()) : json::value(json::object());
  o["input_tokens"] = r.input_tokens;
  o["output_tokens"] = r.output_tokens;
  o["cost"] = r.cost;
  o["outputs"] = r.text;
  return json::serialize(o);
}

}  // namespace

std::string answer_object(const std::string& text) {
  size_t open = text.find('{');
  size_t close = text.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  std::string_view candidate = std::string_view(text).substr(open, close - open + 1);
  boost::system::error_code ec;
  json::value v = json::parse(candidate, ec);
  if (ec || !v.is_object()) return "";
  return std::string(candidate);
}

StatusOr<std::string> job_message(const std::string& inputs_json) {
  AGENTD_ASSIGN_OR_RETURN(json::object o, parse_object(inputs_json));
  std::string message;
  for (const auto& kv : o) {
    if (!message.empty()) message += "\n\n";
    message += std::string(kv.key()) + ":\n";
    message += kv.value().is_string() ? std::string(kv.value().as_string()) : json::serialize(kv.value());
  }
  if (message.empty()) return Status::invalid_argument("job inputs are empty");
  return message;
}

JobService::JobService(AgentRunner& runner, store::Store& store, const Clock& clock, MetricsRegistry& metrics,
                       JobOptions options)
    : runner_(runner),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      depth_(metrics.gauge("agentd_job_queue_depth", "Jobs queued in this process, not yet started")) {}

JobService::~JobService() { stop(); }

Status JobService::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return Status::failed_precondition("job service already started");
    started_ = true;
  }
  const int64_t now = clock_.now_ms();
  AGENTD_ASSIGN_OR_RETURN(std::vector<store::Job> interrupted, store_.jobs_with_status(store::kJobStarted));
  for (const store::Job& job : interrupted) {
    if (job.attempts < 2) {
      AGENTD_RETURN_IF_ERROR(store_.transition_job(job.id, store::kJobStarted, store::kJobPending, 0, now).status());
    } else {
      AGENTD_RETURN_IF_ERROR(
          store_.finish_job(job.id, store::kJobFailure, "", "interrupted by a restart twice; not retried again", now)
              .status());
    }
  }
  AGENTD_ASSIGN_OR_RETURN(std::vector<store::Job> pending, store_.jobs_with_status(store::kJobPending));
  for (store::Job& job : pending) enqueue(std::move(job));
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < std::max<size_t>(options_.workers, 1); ++i) workers_.emplace_back([this] { worker(); });
  return Status::ok();
}

void JobService::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void JobService::enqueue(store::Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
    depth_.set(static_cast<double>(queue_.size()));
  }
  cv_.notify_one();
}

size_t JobService::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

StatusOr<std::vector<store::Job>> JobService::submit(const Principal& who, const std::string& agent_id,
                                                     const std::string& version_id,
                                                     const std::vector<std::string>& inputs_json,
                                                     const std::vector<std::string>& metadata_json) {
  if (inputs_json.empty()) return Status::invalid_argument("at least one input is required");
  if (inputs_json.size() > kMaxJobsPerSubmit) {
    return Status::invalid_argument("at most " + std::to_string(kMaxJobsPerSubmit) + " inputs per request");
  }
  for (const std::string& in : inputs_json) AGENTD_RETURN_IF_ERROR(parse_object(in).status());
  if (!metadata_json.empty() && metadata_json.size() != inputs_json.size())
    return Status::invalid_argument("one metadata object per input is required");
  for (const std::string& m : metadata_json)
    if (!parse_object(m).is_ok()) return Status::invalid_argument("job metadata must be a JSON object");
  if (!looks_like_uuid(agent_id)) return Status::not_found("agent " + agent_id + " not found");
  AGENTD_ASSIGN_OR_RETURN(store::Agent agent, store_.get_agent(who.org_id, agent_id));
  if (!agent.active) return Status::not_found("agent " + agent_id + " is not active");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() + inputs_json.size() > options_.max_queued) return Status::unavailable("job queue is full");
  }
  const int64_t now = clock_.now_ms();
  const std::string batch = inputs_json.size() > 1 ? new_uuid() : "";
  std::vector<store::Job> jobs;
  for (size_t i = 0; i < inputs_json.size(); ++i) {
    const std::string& in = inputs_json[i];
    store::Job j;
    j.id = new_uuid();
    j.org_id = who.org_id;
    j.agent_id = agent_id;
    j.version_id = version_id;
    j.batch_id = batch;
    j.status = store::kJobPending;
    j.inputs_json = in;
    j.metadata_json = metadata_json.empty() ? "{}" : metadata_json[i];
    j.created_ms = j.updated_ms = now;
    jobs.push_back(std::move(j));
  }
  AGENTD_RETURN_IF_ERROR(store_.create_jobs(jobs));
  bool running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running = started_ && !stopping_;
  }
  // Not started (e.g. a CLI process): the jobs wait in the store for a server.
  if (running) {
    for (const store::Job& j : jobs) enqueue(j);
  }
  return jobs;
}

StatusOr<store::Job> JobService::get(const std::string& org_id, const std::string& job_id) {
  return store_.get_job(org_id, job_id);
}

StatusOr<std::vector<store::Job>> JobService::batch(const std::string& org_id, const std::string& batch_id) {
  AGENTD_ASSIGN_OR_RETURN(std::vector<store::Job> jobs, store_.list_batch(org_id, batch_id));
  if (jobs.empty()) return Status::not_found("batch " + batch_id + " not found");
  return jobs;
}

StatusOr<store::Job> JobService::cancel(const std::string& org_id, const std::string& job_id) {
  AGENTD_ASSIGN_OR_RETURN(store::Job job, store_.get_job(org_id, job_id));
  const int64_t now = clock_.now_ms();
  for (int from : {store::kJobPending, store::kJobStarted}) {
    AGENTD_ASSIGN_OR_RETURN(bool moved, store_.transition_job(job.id, from, store::kJobCancelled, 0, now));
    if (!moved) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = running_.find(job.id); it != running_.end()) it->second->store(true);
    }
    return store_.get_job(org_id, job_id);
  }
  return Status::failed_precondition("job " + job_id + " has already ended");
}

StatusOr<int64_t> JobService::cancel_all(const std::string& org_id, const std::string& agent_id) {
  int64_t n = 0;
  for (int status : {store::kJobPending, store::kJobStarted}) {
    // Pages from the start each time: cancelled jobs leave the filter.
    for (int round = 0; round < 1000; ++round) {
      store::JobQuery q;
      q.status = status;
      q.limit = 1000;
      AGENTD_ASSIGN_OR_RETURN(store::JobPage page, store_.list_agent_jobs(org_id, agent_id, q));
      if (page.items.empty()) break;
      int64_t moved_here = 0;
      for (const store::Job& j : page.items) {
        auto c = cancel(org_id, j.id);
        if (c.is_ok()) {
          ++n;
          ++moved_here;
        } else if (c.status().code() != StatusCode::kFailedPrecondition) {
          return c.status();
        }
      }
      if (moved_here == 0) break;
    }
  }
  return n;
}

StatusOr<store::JobPage> JobService::list(const std::string& org_id, const std::string& agent_id,
                                          const store::JobQuery& q) {
  return store_.list_agent_jobs(org_id, agent_id, q);
}

StatusOr<std::map<std::string, store::JobStats>> JobService::stats(const std::string& org_id) {
  return store_.job_stats(org_id);
}

Status JobService::clear_data(const std::string& org_id, const std::string& job_id) {
  AGENTD_ASSIGN_OR_RETURN(bool cleared, store_.clear_job_data(org_id, job_id, clock_.now_ms()));
  if (!cleared) return Status::failed_precondition("job " + job_id + " has not ended; its data cannot be deleted yet");
  return Status::ok();
}

void JobService::worker() {
  while (true) {
    store::Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      depth_.set(static_cast<double>(queue_.size()));
    }
    run_job(job);
  }
}

void JobService::run_job(const store::Job& job) {
  // The stop flag exists before the job is started, so a cancel() that sees
  // it started also finds the flag.
  auto stop_flag = std::make_shared<std::atomic<bool>>(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_[job.id] = stop_flag;
  }
  struct Unregister {
    JobService& self;
    const std::string& id;
    ~Unregister() {
      std::lock_guard<std::mutex> lock(self.mu_);
      self.running_.erase(id);
    }
  } unregister{*this, job.id};
  auto moved = store_.transition_job(job.id, store::kJobPending, store::kJobStarted, 1, clock_.now_ms());
  if (!moved.is_ok() || !*moved) return;  // cancelled, or taken by another process
  auto outcome = [this](const char* o) {
    metrics_.counter("agentd_jobs_total", "Finished jobs by outcome", {{"outcome", o}}).inc();
  };
  RunRequest req;
  req.principal.org_id = job.org_id;
  req.agent_id = job.agent_id;
  req.version_id = job.version_id;
  req.request_id = job.id;
  req.endpoint = "roe.async";
  StatusOr<RunResult> result = Status::internal("not run");
  auto message = job_message(job.inputs_json);
  if (message.is_ok()) {
    req.message = std::move(message).value();
    // A cancel made here sets the flag; one made by another process sharing
    // the database is read from the store at most every kCancelPoll.
    auto next_poll = std::chrono::steady_clock::now() + kCancelPoll;
    result = runner_.run(req, nullptr, [&](std::string_view) {
      if (stop_flag->load()) return false;
      const auto now = std::chrono::steady_clock::now();
      if (now < next_poll) return true;
      next_poll = now + kCancelPoll;
      auto current = store_.get_job(job.org_id, job.id);
      if (current.is_ok() && current->status == store::kJobCancelled) stop_flag->store(true);
      return !stop_flag->load();
    });
  } else {
    result = message.status();
  }
  if (result.is_ok() && !result->version.config.output_schema_json.empty() && answer_object(result->text).empty())
    result = Status::internal("the model's answer is not a JSON object matching the agent's output_schema");
  const int64_t now = clock_.now_ms();
  // finish_job only moves a job that is still started: a cancelled one stays so.
  StatusOr<bool> finished = result.is_ok()
                                ? store_.finish_job(job.id, store::kJobSuccess, result_json(job, *result), "", now)
                                : store_.finish_job(job.id, store::kJobFailure, "", result.status().to_string(), now);
  if (finished.is_ok() && !*finished)
    outcome("cancelled");
  else
    outcome(result.is_ok() ? "success" : "failure");
}

}  // namespace agentd::core
