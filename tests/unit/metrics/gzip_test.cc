#include "gzip.h"

#include <gtest/gtest.h>

#include <string>

#include "gunzip.h"

namespace memcoord::metrics_internal {
namespace {

using testing::Gunzip;

TEST(GzipTest, RoundTripsAndShrinksExpositionText) {
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    text += "memcoord_domain_actual_bytes{domain=\"vm" + std::to_string(i) +
            "\"} " + std::to_string(1073741824 + i * 4096) + "\n";
  }
  const std::optional<std::string> z = Gzip(text);
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
  EXPECT_LT(z->size(), text.size() / 5);
  EXPECT_EQ(Gunzip(*z), text);
}

TEST(GzipTest, EmptyTextIsAValidStream) {
  const std::optional<std::string> z = Gzip("");
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(Gunzip(*z), "");
}

TEST(GzipTest, AcceptEncodingIsReadAsRfc9110Says) {
  EXPECT_FALSE(AcceptsGzip(nullptr));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("deflate, br"));
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("GZip"));
  EXPECT_TRUE(AcceptsGzip("x-gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, gzip;q=0.5"));
  EXPECT_TRUE(AcceptsGzip(" gzip ; q=1.0 , identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=abc"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
  // An explicit gzip wins over the wildcard, both ways.
  EXPECT_FALSE(AcceptsGzip("gzip;q=0, *"));
  EXPECT_TRUE(AcceptsGzip("*;q=0, gzip"));
  // What Prometheus sends.
  EXPECT_TRUE(AcceptsGzip("gzip"));
  // A coding that merely contains the word is another coding.
  EXPECT_FALSE(AcceptsGzip("gzipped"));
}

}  // namespace
}  // namespace memcoord::metrics_internal
