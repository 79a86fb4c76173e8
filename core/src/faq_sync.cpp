// chat::faq_sync::FaqSync: one step of keeping a worker's FAQ current (shelf, then Postgres).
#include "chat/faq_sync.h"

#include "chat/customer.h"
#include "chat/pg_pool.h"

namespace chat::faq_sync {

void FaqSync::run(std::function<void(Step)> done) noexcept {
    try {
        const customer::FaqSet* cur = customer_.faq();
        std::int64_t have = cur ? cur->version : -1;

        if (auto copy = shelf_.get(); copy && copy->version > have) {
            if (auto faq = customer::load_faq(copy->list_json, copy->version); faq.ok()) {
                customer_.set_faq(std::move(faq.value()));
                have = copy->version;
            }
        }

        // NULL unless Postgres has a newer version than this worker: the usual answer
        // is one short row.
        pg_.query("SELECT CASE WHEN version > $1 THEN chat_faq_current()::text END FROM chat_faq_version",
                  {std::to_string(have)}, [this, done](Result<pg::QueryResult> res) {
                      Step step;
                      bool loaded = customer_.faq() != nullptr;
                      const auto text = res.ok() ? res.value().text(0, 0) : std::nullopt;
                      if (text && res.value().rows() == 1) {
                          auto faq = customer::load_faq_current(*text);
                          if (faq.ok()) {
                              customer_.set_faq(faq.value().set);
                              shelf_.put(faq.value().list_json, faq.value().set->version);
                              loaded = true;
                          } else {
                              step.error = faq.error();
                          }
                      }
                      step.next_ms = loaded ? kPollMs : kRetryMs;
                      done(std::move(step));
                  });
    } catch (const std::exception& e) {
        // Nothing was asked: try again soon.
        Step step;
        step.error = make_error(Errc::internal, std::string("syncing the FAQ failed: ") + e.what());
        done(std::move(step));
    }
}

}  // namespace chat::faq_sync
