#pragma once
// Plain records the Store persists. No behaviour here: validation and
// tenancy rules live in core/. Money is integer nano-dollars (1e-9 USD) so
// that sums are exact; times are Unix milliseconds.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace agentd::store {

using Nanos = int64_t;  // 1e-9 USD

struct Organization {
  std::string id;    // uuid
  std::string name;  // unique
  Nanos credits = 0;
  int64_t created_ms = 0;
};

struct ApiKey {
  std::string id;        // uuid
  std::string org_id;
  std::string prefix;    // first characters of the secret, shown in listings, unique
  std::string hash;      // sha256 hex of the whole secret; the secret itself is never stored
  bool admin = false;
  int64_t rpm = 0;          // requests per minute, 0 = unlimited
  int64_t tpm = 0;          // tokens per minute, 0 = unlimited
  int64_t concurrency = 0;  // concurrent runs, 0 = unlimited
  int64_t created_ms = 0;
  bool revoked = false;
};

struct Demonstration {
  std::string input;
  std::string output;
};

struct InputDefinition {
  std::string key;
  std::string data_type = "text/plain";  // MIME type
  std::string description;
  std::string example;
};

// Everything that shapes a run. One AgentVersion holds one AgentConfig.
struct AgentConfig {
  std::string model;  // a model id from the configuration
  std::string instructions;
  std::vector<Demonstration> demonstrations;
  double temperature = 0.7;
  int64_t max_tokens = 256;
  std::optional<double> top_p;
  std::vector<InputDefinition> input_definitions;
  std::string output_schema_json;  // "" when none; else a JSON object as text
  std::string engine_config_json;  // Roe engine_config as given (JSON object text), "" when none
  bool conversation_saving = true;
};

struct AgentVersion {
  std::string id;  // uuid
  std::string agent_id;
  int64_t number = 1;        // 1, 2, ... per agent
  std::string version_name;  // free text, e.g. "1.0.0"; defaults to "v<number>"
  std::string description;
  int64_t created_ms = 0;
  AgentConfig config;
};

struct Agent {
  std::string id;  // uuid
  std::string org_id;
  std::string name;  // normalized lowercase_with_underscores, unique per org
  std::string description;
  bool active = true;
  std::string creator;  // who created it (key prefix or CLI user)
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::string current_version_id;
  // Roe's BaseAgent settings: the engine the agent runs (a name from the
  // catalog of engine classes the API offers) and the job-result cache
  // switches (stored as given; the cache itself is not built yet).
  std::string engine_class_id;
  bool disable_cache = false;
  bool cache_failed_jobs = false;
};

struct AgentQuery {
  bool include_inactive = true;
  std::string search;  // case-insensitive substring of name or description; "" = all
  int64_t offset = 0;
  int64_t limit = 100;
};

struct AgentPage {
  std::vector<Agent> items;
  int64_t total = 0;  // matching rows before offset/limit
};


// A conversation: (organization, agent, session id). The same session id in
// another organization or under another agent is another session.
struct Session {
  std::string org_id;
  std::string agent_id;
  std::string session_id;  // chosen by the client
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t turn_count = 0;  // filled by reads
};

// One message of a session, in order (seq 1, 2, ...).
struct SessionTurn {
  int64_t seq = 0;    // assigned by the store on append
  std::string role;   // "user" or "assistant"
  std::string content;
  int64_t tokens = 0;  // tokens the message counted for in its run
  int64_t created_ms = 0;
};

// One run of an agent, whatever the endpoint; the source of usage and cost.
struct Run {
  std::string id;  // uuid
  std::string org_id;
  std::string agent_id;
  std::string version_id;
  std::string session_id;  // "" when none
  std::string request_id;
  std::string endpoint;  // e.g. "nugen.run"
  std::string model;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  Nanos cost = 0;
  int64_t latency_ms = 0;
  std::string status = "ok";  // "ok", "failed" or "cancelled" (cut short; charged what it consumed)
  std::string error;          // failed runs: why
  int64_t created_ms = 0;
};

// Derived from an agent's runs. usage_count and total_requests both count
// every run (failed ones too); success_rate is ok runs / runs (0 when none).
struct AgentUsage {
  int64_t usage_count = 0;
  int64_t input_tokens = 0;  // over all its runs
  int64_t output_tokens = 0;
  int64_t last_used_ms = 0;  // 0 when never run
  int64_t total_requests = 0;
  double average_latency_ms = 0;
  double success_rate = 0;
};

struct ModelUsage {
  std::string model;
  int64_t requests = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  Nanos cost = 0;
};

// An organization's totals over all its runs.
struct OrgUsage {
  int64_t requests = 0;
  int64_t failed_requests = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  Nanos cost = 0;
  std::vector<ModelUsage> by_model;  // sorted by model id
};

// Roe job status codes (2 retry and 6 cached are Roe's too; agentd does
// not produce them yet).
inline constexpr int kJobPending = 0;
inline constexpr int kJobStarted = 1;
inline constexpr int kJobRetry = 2;
inline constexpr int kJobSuccess = 3;
inline constexpr int kJobFailure = 4;
inline constexpr int kJobCancelled = 5;
inline constexpr int kJobCached = 6;

// An asynchronous run (Roe async). inputs_json/result_json are JSON text.
struct Job {
  std::string id;  // uuid
  std::string org_id;
  std::string agent_id;
  std::string version_id;  // "" = the agent's current version when it runs
  std::string batch_id;    // "" unless submitted by async/many: the batch it belongs to
  int status = kJobPending;
  std::string inputs_json = "{}";
  std::string metadata_json = "{}";  // the client's metadata object, stored as given
  std::string result_json;  // "" until it succeeds
  std::string error;
  int64_t attempts = 0;     // times a worker started it
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

// A page of one agent's jobs, newest first.
struct JobQuery {
  int status = -1;  // -1 = any
  int64_t offset = 0;
  int64_t limit = 100;  // cut to 1000
};

struct JobPage {
  std::vector<Job> items;
  int64_t total = 0;  // matching jobs before offset/limit
};

// An agent's jobs, counted from the stored jobs.
struct JobStats {
  int64_t count = 0;
  int64_t last_created_ms = 0;  // 0 when it has none
};

}  // namespace agentd::store
