# WebSockets facing the internet (API.md "Customer endpoints" on ?token=/Origin/frames
# before auth, "Events"): sockets are refused from foreign origins, act on no frame before
# their token is verified, are rate limited, hear only what their owner may GET, are
# closed when their agent's standing changes, never outlive their callbacks, close even
# when the peer stops reading, and resume after the no-Redis ring dropped events.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep);
use ChatTest;
use ChatWS;

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', $$ * 10000 + ++$n) }

sub session {
    my ($ng, %ctx) = @_;
    my $s = $ng->post('/chat/api/v1/session', json => { context => \%ctx })->{json};
    return ($s->{token}, { Authorization => "Bearer $s->{token}" }, $s);
}

# every event until the socket is closed or $timeout passes quietly; returns the close code
sub close_code {
    my ($ws, $timeout) = @_;
    1 while defined $ws->next_message($timeout // 10);
    return $ws->{closed} // 'open';
}

# --- a callback of a closed socket never reaches a later socket --------------------------
#
# One worker, one Postgres connection: the replay of socket 1 waits on a lock; socket 1
# goes away, socket 2 (another customer) arrives in its place. When the lock is released,
# socket 1's replay must not be delivered to socket 2, even if nginx reuses the request's
# memory for socket 2.
{
    my $ng = start_nginx(workers => 1, pool => 1, name => 'ws-sec-replay');
    my ($t1, $h1) = session($ng);
    my ($t2, $h2) = session($ng);
    $ng->post('/chat/api/v1/messages', headers => $h1, json => { text => 'secret of customer one', client_id => uuid() });

    local $ENV{PGPASSWORD} = 'chat';
    my $port = $ENV{CHAT_PG_PORT} || 55432;
    open(my $lock, '|-', "psql -X -q -h 127.0.0.1 -p $port -U chat -d chat >/dev/null 2>&1") or die "psql: $!";
    $lock->autoflush(1);
    print $lock "BEGIN; LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);\n";
    ok(wait_until(sub { ChatTest::sql("SELECT count(*) FROM pg_locks WHERE relation = 'conversations'::regclass"
                                      . " AND mode = 'AccessExclusiveLock' AND granted") >= 1 }, 10),
       'a test transaction holds the conversations table');

    for my $round (1 .. 5) {
        my $ws1 = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=0&token=$t1");
        sleep 0.2;    # its replay is queued behind the lock
        $ws1->close;
        sleep 0.2;    # the worker saw it go
    }
    my $ws2 = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=0&token=$t2");
    ok($ws2, "customer two's socket opens while the replays wait");

    # end the lock: cancel the sleeping backend, the transaction rolls back
    ChatTest::sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%'"
                  . " AND pid <> pg_backend_pid()");
    close $lock;

    my @ev = $ws2->drain(2);
    my @foreign = grep { ($_->{data}{content} // '') eq 'secret of customer one' } @ev;
    is(scalar(@foreign), 0, "customer two never receives customer one's messages");
    ok((grep { $_->{type} eq 'message.created' && $_->{seq} == 1 } @ev), 'but its own history');
    $ws2->close;
    is($ng->get('/chat/api/v1/health')->{status}, 200, 'and the worker lives on');
    $ng->stop;
}

done_testing;
