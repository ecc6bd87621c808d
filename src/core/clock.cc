#include "memcoord/clock.h"

#include <chrono>

namespace memcoord {

double SystemClock::NowSeconds() const {
  using std::chrono::duration;
  using std::chrono::system_clock;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace memcoord
