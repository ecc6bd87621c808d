// StatsCall against libvirt's in-process test driver (test:///default: one
// running domain, "test"). That its wait gives up on a hung QEMU is shown on
// real guests by the lab case hung_guest.
#include "stats_call.h"

#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include <atomic>
#include <memory>

namespace memcoord {
namespace {

constexpr unsigned kTypes = VIR_DOMAIN_STATS_BALLOON;

class StatsCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_ = virConnectOpen("test:///default");
    ASSERT_NE(conn_, nullptr);
  }
  void TearDown() override {
    if (conn_ != nullptr) virConnectClose(conn_);
  }
  virConnectPtr conn_ = nullptr;
  std::shared_ptr<std::atomic<int>> abandoned_ =
      std::make_shared<std::atomic<int>>(0);
};

TEST_F(StatsCallTest, ReturnsTheRecordsOfTheCall) {
  std::shared_ptr<StatsCall> call = StatsCall::Start(
      conn_, kTypes,
      VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING |
          VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT,
      abandoned_);
  ASSERT_NE(call, nullptr);
  ASSERT_TRUE(call->Wait(10));
  StatsResult r = call->Take();
  ASSERT_EQ(r.count, 1) << r.error_message;
  ASSERT_NE(r.records, nullptr);
  EXPECT_STREQ(virDomainGetName(r.records.get()[0]->dom), "test");
  EXPECT_EQ(abandoned_->load(), 0);
}

TEST_F(StatsCallTest, AFailedCallCarriesItsErrorFromTheCallsThread) {
  // Statistics the driver does not have, enforced, are refused.
  std::shared_ptr<StatsCall> call = StatsCall::Start(
      conn_, 1u << 30, VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS,
      abandoned_);
  ASSERT_NE(call, nullptr);
  ASSERT_TRUE(call->Wait(10));
  StatsResult r = call->Take();
  EXPECT_EQ(r.count, -1);
  EXPECT_EQ(r.records, nullptr);
  EXPECT_NE(r.error_code, VIR_ERR_OK);
  EXPECT_NE(r.error_message.find("not supported"), std::string::npos)
      << r.error_message;
}

TEST_F(StatsCallTest, TheCallKeepsTheConnectionAliveWhenTheCallerCloses) {
  std::shared_ptr<StatsCall> call = StatsCall::Start(
      conn_, kTypes, VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING, abandoned_);
  ASSERT_NE(call, nullptr);
  // The caller's reference goes at once; the call holds its own.
  virConnectClose(conn_);
  conn_ = nullptr;
  ASSERT_TRUE(call->Wait(10));
  EXPECT_EQ(call->Take().count, 1);
}

}  // namespace
}  // namespace memcoord
