// A cluster as docs/operations.md ("A cluster") draws it, on loopback:
// phones -> HAProxy -> two appliances -> PostgreSQL primary with a
// synchronous streaming standby; one acquirer (the development simulator,
// outside both appliances); a token per appliance, the second's made from
// the first's by `mpay-admin token clone`. Everything lives in temporary
// directories and is stopped and removed with the object.
#pragma once
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "support/running_appliance.h"

namespace mpay::test {

// PostgreSQL 15 from Debian's packages: a primary made by initdb, a standby
// made from it by pg_basebackup, synchronous replication between them. Run
// as the postgres account when the tests run as root.
class PostgresPair {
 public:
  PostgresPair();
  ~PostgresPair();
  PostgresPair(const PostgresPair&) = delete;
  PostgresPair& operator=(const PostgresPair&) = delete;

  // libpq's multi-host form, both servers, read-write only.
  std::string url() const;
  // The failover, as a shell command (the bench runs it under load): the
  // primary stops at once (immediate shutdown, as a crash) and the standby
  // is promoted.
  std::string failoverCommand() const;
  // The standby confirms every commit (pg_stat_replication says "sync").
  bool standbyIsSynchronous() const;

 private:
  void start();
  void stop();
  std::string pgCommand(const std::string& tool, const std::string& args) const;
  void run(const std::string& command) const;
  std::string dir_;
  int primary_port_ = 0, standby_port_ = 0;
};

class Cluster {
 public:
  // `settings` go into both appliances' configs; `balancer_rate_per_minute`
  // is HAProxy's limit per client address, for the whole cluster.
  explicit Cluster(const std::string& settings = "", int balancer_rate_per_minute = 6000);
  ~Cluster();

  RunningAppliance& a() { return *a_; }
  RunningAppliance& b() { return *b_; }
  // Appliance a's files and devices, reached through HAProxy.
  RunningAppliance& front() { return *front_; }
  PostgresPair& db() { return db_; }
  int balancerPort() const { return balancer_port_; }
  // HAProxy's status of one appliance ("a" or "b"): "UP", "DOWN", ... ("" if unknown).
  std::string balancerStatus(const std::string& server) const;
  // API requests (not /healthz) an appliance's gateway has answered, from its /metrics.
  long requestsServed(const RunningAppliance& app) const;

 private:
  void start(const std::string& settings, int balancer_rate_per_minute);
  void stop();
  PostgresPair db_;
  std::unique_ptr<RunningAppliance> a_, b_, front_;
  pid_t acquirer_ = -1, haproxy_ = -1;
  int balancer_port_ = 0;
  std::string haproxy_dir_;
};

}  // namespace mpay::test
