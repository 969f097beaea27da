#include "model/sse_parser.h"

namespace agentd::model {

std::vector<std::string> SseParser::feed(std::string_view bytes) {
  std::vector<std::string> events;
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r') {
      after_cr_ = true;
      end_line(events);
    } else if (c == '\n') {
      end_line(events);
    } else {
      line_ += c;
    }
  }
  return events;
}

std::string SseParser::finish() {
  std::vector<std::string> events;
  if (!line_.empty()) end_line(events);
  std::string out = has_data_ ? std::move(data_) : std::string();
  data_.clear();
  has_data_ = false;
  return out;
}

void SseParser::end_line(std::vector<std::string>& events) {
  if (line_.empty()) {
    if (has_data_) events.push_back(std::move(data_));
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line_.front() != ':') {
    const size_t colon = line_.find(':');
    const std::string_view field = std::string_view(line_).substr(0, colon);
    std::string_view value;
    if (colon != std::string::npos) {
      value = std::string_view(line_).substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data_) data_ += '\n';
      data_.append(value);
      has_data_ = true;
    }
  }
  line_.clear();
}

}  // namespace agentd::model
