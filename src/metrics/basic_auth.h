// BasicAuth: HTTP basic authentication against a file of users.
//
// File format (one user per line): `user:sha256:<64 hex digits>` (SHA-256 of
// the password) or `user:<plain password>`. Blank lines and lines starting
// with '#' are ignored; the user name may not contain ':'. Passwords are kept
// only as SHA-256 digests and compared in constant time. Immutable after
// Load(), so Check() is safe from any thread.
#ifndef MEMCOORD_SRC_METRICS_BASIC_AUTH_H_
#define MEMCOORD_SRC_METRICS_BASIC_AUTH_H_

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "memcoord/status.h"

namespace memcoord::metrics_internal {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest Sha256(std::string_view data);
// Standard base64 with padding; nullopt on malformed input.
std::optional<std::string> Base64Decode(std::string_view in);

class BasicAuth {
 public:
  // kInvalidArgument for an unreadable file, a malformed line (named by
  // number) or a file without users.
  static Result<BasicAuth> Load(const std::string& path);
  // Parses file contents; `origin` names the source in error messages.
  static Result<BasicAuth> Parse(std::string_view contents,
                                 const std::string& origin);
  // `authorization` is the Authorization header value (may be null).
  bool Check(const char* authorization) const;

 private:
  std::map<std::string, Sha256Digest, std::less<>> users_;
};

}  // namespace memcoord::metrics_internal

#endif  // MEMCOORD_SRC_METRICS_BASIC_AUTH_H_
