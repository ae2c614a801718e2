// The dashboard as a person sees it: headless Chromium (Debian's chromium) opens the page of a
// wrapper under load, takes a screenshot (build/dashboard.png) and dumps the rendered DOM, whose
// pools, socket counts and busiest tenants must be those of the statistics API.
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <regex>
#include <thread>

#include "support.hpp"

using namespace pmtest;

namespace {

std::string run(const std::string &cmd) {
  FILE *f = popen(cmd.c_str(), "r");
  if (f == nullptr) return "";
  std::string out;
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

std::string chromium(const std::string &args, const std::string &url) {
  std::string profile = ::testing::TempDir() + "/pm_chromium_" + std::to_string(getpid());
  // --no-sandbox: the suite may run as root; the page is our own. No network but loopback is used.
  // ?feed=poll: the page polls the event feed instead of holding a server-sent-events stream
  // open, which would keep Chromium's virtual time from advancing.
  return run("HOME=" + profile + " timeout 90 chromium --headless --disable-gpu --no-sandbox --no-first-run "
             "--disable-extensions --disable-background-networking --disable-component-update "
             "--disable-sync --user-data-dir=" + profile + " --hide-scrollbars --window-size=1400,1250 " +
             args + " '" + url + "' 2>>" + PM_BUILD_DIR + "/chromium.log; rm -rf " + profile);
}

std::string take(char *s) {
  std::string out = s ? s : "";
  pm_free(s);
  return out;
}

}  // namespace

TEST(Dashboard, ChromiumShowsThePoolsSocketsAndBusiestTenantsOfTheStatistics) {
  if (run("command -v chromium").empty()) FAIL() << "chromium is not installed (scripts/bootstrap installs it)";
  std::string own = unique_db("dash_own");
  Wrapper w;
  pm_error err;
  std::string o = options("\"maxPoolSize\": 6, \"slowOperationMS\": 50, \"admin\": {\"listen\": \"127.0.0.1:0\"}, "
                          "\"dbSpecific\": [{\"dbName\": \"" + own + "\", \"options\": {\"maxConnections\": 3}}]");
  ASSERT_EQ(pm_wrapper_new(o.c_str(), &w.w, &err), PM_OK) << err.message;
  std::string url = take([&] {
    char *u = nullptr;
    pm_wrapper_admin_url(w.w, &u, &err);
    return u;
  }());
  ASSERT_FALSE(url.empty());

  // Load: tenants at different rates (tenant i does i + 1 inserts per round), one on its own pool.
  Model m;
  m.m = new_model(w.w, "orders");
  std::vector<std::string> tenants;
  for (int i = 0; i < 7; ++i) tenants.push_back(unique_db("dash_tenant_" + std::to_string(i) + "_"));
  tenants.push_back(own);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> load;
  struct Joiner {  // a failed ASSERT still stops and joins the load
    std::atomic<bool> &stop;
    std::vector<std::thread> &threads;
    ~Joiner() {
      stop = true;
      for (auto &t : threads)
        if (t.joinable()) t.join();
    }
  } joiner{stop, load};
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      std::vector<pm_db *> dbs;
      for (const auto &name : tenants) {
        pm_db *d = nullptr;
        if (pm_model_db(m.m, name.c_str(), &d, nullptr) == PM_OK) dbs.push_back(d);
      }
      for (int round = 0; !stop; ++round) {
        for (size_t i = 0; i < dbs.size(); ++i) {
          if ((static_cast<int>(i) + t + round) % 8 > static_cast<int>(i)) continue;  // uneven rates
          pm_error e;
          if (pm_db_insert_one(dbs[i], "{\"item\": \"widget\", \"qty\": 2}", PM_JSON, nullptr, 0, nullptr, &e) != PM_OK)
            ++failures;
        }
      }
      for (pm_db *d : dbs) pm_db_free(d);
    });
  }
  ASSERT_TRUE(wait_until([&] {
    char *u = nullptr;
    pm_wrapper_usage(w.w, 0, &u, nullptr);
    std::string s = take(u);
    return s.find(own) != std::string::npos;
  }, 10000));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));

  // The screenshot, under load (the page has refreshed a few times: rates and plots drawn).
  std::string png = std::string(PM_BUILD_DIR) + "/dashboard.png";
  std::remove(png.c_str());
  chromium("--virtual-time-budget=4500 --screenshot=" + png, url + "/?feed=poll");
  struct stat st{};
  ASSERT_EQ(stat(png.c_str(), &st), 0) << "chromium wrote no screenshot";
  EXPECT_GT(st.st_size, 20000) << "a screenshot of a rendered page";

  // Then quiet, so that the page and the statistics see the same numbers.
  stop = true;
  for (auto &t : load) t.join();
  load.clear();
  EXPECT_EQ(failures.load(), 0);
  std::string dom = chromium("--virtual-time-budget=3000 --dump-dom", url + "/?feed=poll");
  ASSERT_NE(dom.find("data-ready=\"1\""), std::string::npos) << "the page rendered its data:\n" << dom.substr(0, 3000);

  // Busiest tenants: names and operation counts in the order of pm_wrapper_usage.
  char *usage = nullptr;
  ASSERT_EQ(pm_wrapper_usage(w.w, 10, &usage, &err), PM_OK);
  cJSON *expected = cJSON_Parse(take(usage).c_str());
  std::regex tenant_row(R"re(<tr data-db="([^"]+)"><td class="db">[^<]*</td><td class="pool">([^<]*)</td><td class="num ops">(\d+)</td>)re");
  std::vector<std::tuple<std::string, std::string, long>> shown;
  for (std::sregex_iterator it(dom.begin(), dom.end(), tenant_row), end; it != end; ++it)
    shown.emplace_back((*it)[1], (*it)[2], std::stol((*it)[3]));
  ASSERT_EQ(shown.size(), static_cast<size_t>(cJSON_GetArraySize(expected))) << dom;
  for (size_t i = 0; i < shown.size(); ++i) {
    cJSON *e = cJSON_GetArrayItem(expected, static_cast<int>(i));
    EXPECT_EQ(std::get<0>(shown[i]), cJSON_GetObjectItem(e, "db")->valuestring) << i;
    EXPECT_EQ(std::get<2>(shown[i]), static_cast<long>(cJSON_GetObjectItem(e, "operations")->valuedouble)) << i;
    EXPECT_EQ(std::get<1>(shown[i]), std::get<0>(shown[i]) == own ? own : "shared");
  }
  cJSON_Delete(expected);

  // Pools and their sockets, as pm_wrapper_stats says.
  char *stats = nullptr;
  ASSERT_EQ(pm_wrapper_stats(w.w, &stats, &err), PM_OK);
  cJSON *s = cJSON_Parse(take(stats).c_str());
  std::map<std::string, int> expected_sockets;
  cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItem(s, "pools")) {
    expected_sockets[cJSON_GetObjectItem(p, "name")->valuestring] =
        cJSON_GetObjectItem(cJSON_GetObjectItem(p, "connections"), "open")->valueint;
  }
  cJSON_Delete(s);
  std::regex pool_row(R"re(<tr data-pool="([^"]+)"[^>]*>.*?<td class="num sockets">(\d+)</td>)re");
  std::map<std::string, int> shown_sockets;
  for (std::sregex_iterator it(dom.begin(), dom.end(), pool_row), end; it != end; ++it)
    shown_sockets[(*it)[1]] = std::stoi((*it)[2]);
  EXPECT_EQ(shown_sockets, expected_sockets) << dom;
  EXPECT_EQ(shown_sockets.count("shared"), 1u);
  EXPECT_EQ(shown_sockets.count(own), 1u);
  EXPECT_GE(shown_sockets["shared"], 1);
  EXPECT_NE(dom.find("<rect class=\"bar\""), std::string::npos) << "the latency histogram is drawn";
  EXPECT_NE(dom.find("<li>"), std::string::npos) << "the event feed shows events";
}
