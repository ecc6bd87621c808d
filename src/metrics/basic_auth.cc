#include "basic_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <fstream>
#include <sstream>

namespace memcoord::metrics_internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Sha256Digest> ParseHexDigest(std::string_view hex) {
  Sha256Digest d{};
  if (hex.size() != d.size() * 2) return std::nullopt;
  for (size_t i = 0; i < d.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return d;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest d{};
  unsigned int len = 0;
  // EVP_Digest cannot fail for SHA-256 on in-memory data short of memory
  // exhaustion; a zero digest then simply matches no configured password.
  EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return std::nullopt;  // data after padding
        v[k] = Base64Value(c);
        if (v[k] < 0) return std::nullopt;
      }
    }
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

Result<BasicAuth> BasicAuth::Load(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return Status::InvalidArgument("web.basic_auth_file " + path +
                                   ": cannot be read");
  }
  std::stringstream contents;
  contents << file.rdbuf();
  return Parse(contents.str(), path);
}

Result<BasicAuth> BasicAuth::Parse(std::string_view contents,
                                   const std::string& origin) {
  BasicAuth auth;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= contents.size()) {
    size_t end = contents.find('\n', pos);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::InvalidArgument(origin + ":" + std::to_string(line_no) +
                                     ": expected user:password");
    }
    std::string user(line.substr(0, colon));
    std::string_view secret = line.substr(colon + 1);
    Sha256Digest digest;
    constexpr std::string_view kHashPrefix = "sha256:";
    if (secret.substr(0, kHashPrefix.size()) == kHashPrefix) {
      auto parsed = ParseHexDigest(secret.substr(kHashPrefix.size()));
      if (!parsed) {
        return Status::InvalidArgument(
            origin + ":" + std::to_string(line_no) +
            ": sha256: must be followed by 64 hex digits");
      }
      digest = *parsed;
    } else {
      if (secret.empty()) {
        return Status::InvalidArgument(origin + ":" + std::to_string(line_no) +
                                       ": empty password");
      }
      digest = Sha256(secret);
    }
    auth.users_[std::move(user)] = digest;
  }
  if (auth.users_.empty()) {
    return Status::InvalidArgument(origin + ": no users");
  }
  return auth;
}

bool BasicAuth::Check(const char* authorization) const {
  if (authorization == nullptr) return false;
  std::string_view header(authorization);
  constexpr std::string_view kScheme = "Basic ";
  if (header.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  auto decoded = Base64Decode(header);
  if (!decoded) return false;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  auto it = users_.find(std::string_view(*decoded).substr(0, colon));
  // Hash even for unknown users so that timing does not tell which users
  // exist.
  const Sha256Digest given =
      Sha256(std::string_view(*decoded).substr(colon + 1));
  if (it == users_.end()) return false;
  return CRYPTO_memcmp(given.data(), it->second.data(), given.size()) == 0;
}

}  // namespace memcoord::metrics_internal
