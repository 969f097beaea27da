#pragma once
// Server-sent events, as an OpenAI-compatible provider streams them
// (https://html.spec.whatwg.org/multipage/server-sent-events.html): lines
// ending in LF, CRLF or CR; "data:" lines (one optional space after the
// colon) accumulate, joined by "\n"; a blank line dispatches the event;
// lines starting with ":" are comments; other fields (event, id, retry) are
// ignored. Bytes may arrive split anywhere, even inside a CRLF.
//
// Thread-safety: none; one parser per stream.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace agentd::model {

class SseParser {
 public:
  // Consumes `bytes` and returns the data of every event completed by them.
  std::vector<std::string> feed(std::string_view bytes);
  // At end of stream: an event whose data lines were not followed by a blank
  // line (the spec drops it; providers that omit the last blank line exist,
  // so it is returned, "" when there is none).
  std::string finish();
  // Bytes held in the current unfinished line and event.
  size_t buffered() const { return line_.size() + data_.size(); }

 private:
  void end_line(std::vector<std::string>& events);

  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool after_cr_ = false;  // the previous byte was CR: a following LF belongs to it
};

}  // namespace agentd::model
