# The FAQ bot at a worker's start (API.md "Lifecycle": in automated, every customer text gets
# an FAQ answer or a fallback): a worker that has not loaded the FAQ yet reads it before it
# answers, so the first customer of a freshly started nginx never gets the fallback, nor a
# session without the FAQ list, for want of it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use POSIX ();
use Time::HiRes qw(sleep time);

# Hold chat_faq_version locked for a while, so the workers' own FAQ sync cannot finish
# before the first requests arrive (it would otherwise win or lose a race).
my $hold = 3;
my $locker = fork // die "fork: $!";
if ($locker == 0) {
    ChatTest::sql("BEGIN; LOCK TABLE chat_faq_version IN ACCESS EXCLUSIVE MODE; "
                  . "SELECT pg_sleep($hold); COMMIT;");
    POSIX::_exit(0);
}
ok(wait_until(sub {
    ChatTest::sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                  . "WHERE c.relname = 'chat_faq_version' AND l.mode = 'AccessExclusiveLock' "
                  . "AND l.granted") eq '1'
}, 10, 0.05), 'the FAQ version table is held locked');

my $t0 = time;
my $ng = ChatTest::start_nginx(workers => 1);
cmp_ok(time - $t0, '<', $hold, 'nginx answers health while the FAQ cannot be read yet');

my $s = $ng->post('/chat/api/v1/session', json => {});
is($s->{status}, 200, 'the first session opens');
cmp_ok(scalar @{ $s->{json}{faq} // [] }, '>', 0, 'and lists the FAQ');

my $r = $ng->post('/chat/api/v1/messages',
                  headers => { Authorization => "Bearer $s->{json}{token}" },
                  json => { text => 'How long does shipping take?',
                            client_id => sprintf('00000000-0000-4000-8000-%012d', $$) });
is($r->{status}, 201, 'the first message is answered');
is($r->{json}{messages}[1]{metadata}{faq}, 'shipping-time',
   'by the FAQ answer, not the fallback');

waitpid $locker, 0;
$ng->stop;
done_testing;
