// Private to src/store: the one-worker-thread Store every adapter uses. A Backend's calls run
// only on the worker thread, one at a time, in the order they were made; each result is posted
// to the io_context, where the caller's completion runs. The destructor lets queued requests
// finish (a graceful leave's delete is not lost) and then joins the thread.
#pragma once

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "clusterd/discovery/registry.hpp"

namespace clusterd::store {

class Backend {
  public:
    virtual ~Backend() = default;
    virtual discovery::StoreResult register_row(const discovery::Row& row, base::Instant now) = 0;
    virtual discovery::StoreResult list() = 0;
    virtual discovery::StoreResult remove(const std::string& name, const std::string& address) = 0;
    virtual discovery::StoreResult prune(base::Instant now) = 0;
};

class WorkerStore final : public discovery::Store {
  public:
    WorkerStore(asio::io_context& io, std::string shown, std::unique_ptr<Backend> backend)
        : io_(io), shown_(std::move(shown)), backend_(std::move(backend)), worker_([this] { loop(); }) {}

    ~WorkerStore() override {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        worker_.join();
    }
    WorkerStore(const WorkerStore&) = delete;
    WorkerStore& operator=(const WorkerStore&) = delete;

    std::string describe() const override { return shown_; }
    void register_row(const discovery::Row& row, base::Instant now, Done done) override {
        submit([this, row, now] { return backend_->register_row(row, now); }, std::move(done));
    }
    void list(Done done) override {
        submit([this] { return backend_->list(); }, std::move(done));
    }
    void remove(const std::string& name, const std::string& address, Done done) override {
        submit([this, name, address] { return backend_->remove(name, address); }, std::move(done));
    }
    void prune(base::Instant now, Done done) override {
        submit([this, now] { return backend_->prune(now); }, std::move(done));
    }

  private:
    struct Task {
        std::function<discovery::StoreResult()> work;
        Done done;
    };

    void submit(std::function<discovery::StoreResult()> work, Done done) {
        {
            std::lock_guard lk(mu_);
            tasks_.push_back(Task{std::move(work), std::move(done)});
        }
        cv_.notify_one();
    }

    void loop() {
        for (;;) {
            Task t;
            {
                std::unique_lock lk(mu_);
                cv_.wait(lk, [this] { return stop_ || !tasks_.empty(); });
                if (tasks_.empty())
                    return; // stopping and drained
                t = std::move(tasks_.front());
                tasks_.pop_front();
            }
            discovery::StoreResult r = t.work();
            asio::post(io_, [done = std::move(t.done), r = std::move(r)]() mutable { done(std::move(r)); });
        }
    }

    asio::io_context& io_;
    std::string shown_;
    std::unique_ptr<Backend> backend_; ///< used only by the worker thread
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Task> tasks_;
    bool stop_ = false;
    std::thread worker_; ///< last: starts after everything it uses exists
};

} // namespace clusterd::store
