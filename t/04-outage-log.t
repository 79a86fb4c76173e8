# Postgres unreachable or refusing us: error.log says why (libpq's reason, never the password),
# once per change of state and per worker, not once per reconnect attempt.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use ChatTest;

sub log_lines {
    my ($ng, $re) = @_;
    open my $fh, '<', $ng->dir . '/error.log' or return ();
    return grep { /$re/ } <$fh>;
}

# Several reconnect attempts per connection: the backoff starts at 100 ms and is capped at 2 s.
sub let_it_retry {
    my ($ng) = @_;
    for (1 .. 3) {
        my $r = $ng->get('/chat/api/v1/health/db');
        is($r->{status}, 503, '/health/db answers 503 while Postgres is unavailable');
    }
    select(undef, undef, undef, 3.5);
    my $st = $ng->status;
    cmp_ok($st && $st->{postgres}{reconnects}, '>=', 6, 'the pool retried several times meanwhile');
}

subtest 'chat_postgres at a closed port: "Connection refused" is logged once, not once per retry' => sub {
    my $port = free_port();    # nobody listens there
    my $ng = start_nginx(workers => 1, pool => 2, name => 'outage-log-refused',
                         postgres => "host=127.0.0.1 port=$port dbname=chat user=chat password=chat");
    let_it_retry($ng);
    my @lines = log_lines($ng, qr/chat: postgres /);
    is(scalar @lines, 1, 'exactly one line about Postgres in error.log') or diag(join '', @lines);
    like($lines[0] // '', qr/\[error\] .*chat: postgres unavailable: .*port $port failed: Connection refused/,
         "the line is an [error] with libpq's reason");
    $ng->stop;
};

subtest 'a wrong password: libpq\'s "password authentication failed" is logged once, the password never' => sub {
    my $ng = start_nginx(workers => 1, pool => 2, name => 'outage-log-password',
                         postgres => sprintf('host=127.0.0.1 port=%d dbname=chat user=chat password=Wr0ng-pw-77',
                                             ChatTest::pg_port()));
    let_it_retry($ng);
    my @lines = log_lines($ng, qr/chat: postgres /);
    is(scalar @lines, 1, 'exactly one line about Postgres in error.log') or diag(join '', @lines);
    like($lines[0] // '', qr/chat: postgres unavailable: .*password authentication failed for user "chat"/,
         "the line carries libpq's reason");
    is(scalar(log_lines($ng, qr/Wr0ng-pw-77/)), 0, 'the password appears nowhere in error.log');
    $ng->stop;
};

done_testing;
