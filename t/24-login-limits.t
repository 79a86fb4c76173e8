# Login limits (API.md "Agent endpoints", POST /agent/login): failures count per username
# and address and per address for any username, concurrent guesses never get past the
# limit, a flood from one address is refused and never stops a login from another,
# successful logins never count, every 429 carries Retry-After, and old failures are pruned.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);

# Each part uses source addresses of its own (all of 127.0.0.0/8 is loopback), so the
# per-address counts start from nothing, whatever ran before.
my %addr = (admin => '127.0.0.21', flood => '127.0.0.22', other => '127.0.0.23', random => '127.0.0.24',
            random_ok => '127.0.0.25', success => '127.0.0.26', prune => '127.0.0.27',
            guesses => '127.0.0.28');
ChatTest::sql("DELETE FROM login_failures WHERE address IN ("
              . join(',', map { "'$_'" } sort values %addr) . ")");

my $ng = ChatTest::start_nginx(workers => 3,
    http => '    chat_login_limit failures=10 address=20 window=5m;');
# the same limits, but room for 64 logins in progress per worker and address: every
# guess of a burst reaches Postgres at once
my $wide = ChatTest::start_nginx(workers => 3,
    http => '    chat_login_limit failures=10 address=20 window=5m queue=64 address_queue=64;');

my $run = sprintf('%d%d', $$, int(time * 1000) % 100000);
my $JSON = JSON::PP->new->utf8->canonical;

# POST /agent/login from a source address of our choice
sub login_from {
    my ($ng, $from, $user, $pass) = @_;
    my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0, local_address => $from);
    my $res = $http->request('POST', $ng->url('/chat/api/v1/agent/login'),
        { headers => { 'content-type' => 'application/json' },
          content => $JSON->encode({ username => $user, password => $pass }) });
    my $json = eval { $JSON->decode($res->{content}) };
    return { status => $res->{status}, headers => $res->{headers}, json => $json,
             body => $res->{content} };
}

# Sends every login at once (one connection each, all written before any answer is
# read) and returns the sockets; collect() reads their answers.
sub send_burst {
    my ($ng, $from, @creds) = @_;
    my @socks;
    for my $c (@creds) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ng->port,
                                      LocalAddr => $from, Proto => 'tcp')
            or die "connect from $from: $!";
        my $body = $JSON->encode({ username => $c->[0], password => $c->[1] });
        my $req = "POST /chat/api/v1/agent/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                . "Content-Type: application/json\r\nContent-Length: " . length($body)
                . "\r\nConnection: close\r\n\r\n$body";
        defined syswrite($s, $req) or die "write: $!";
        push @socks, $s;
    }
    return \@socks;
}

sub collect {
    my ($socks) = @_;
    my %buf = map { ($_ => '') } @$socks;
    my $sel = IO::Select->new(@$socks);
    my $deadline = time + 120;
    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(1)) {
            my $n = sysread($s, my $chunk, 65536);
            if ($n) { $buf{$s} .= $chunk; next }
            $sel->remove($s);
            close $s;
        }
    }
    my @out;
    for my $s (@$socks) {
        my ($head, $body) = split /\r\n\r\n/, $buf{$s}, 2;
        my ($status) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3})};
        my %h;
        for (split /\r\n/, $head // '') { $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/ }
        push @out, { status => $status // 0, headers => \%h,
                     json => eval { $JSON->decode($body // '') } };
    }
    return @out;
}

sub count_status { my ($st, @r) = @_; scalar grep { $_->{status} == $st } @r }
# true when there are answers and each has a Retry-After of 1..300 s
sub all_retry_after {
    my (@r) = @_;
    return @r && scalar(grep { ($_->{headers}{'retry-after'} // '') =~ /^[1-9]\d*$/
                         && $_->{headers}{'retry-after'} <= 300 } @r) == @r;
}

# this file's agent, made by the seeded admin (from an address of our own too: other
# files' failures from 127.0.0.1 may have used up its limit)
my $admin = login_from($ng, $addr{admin}, 'admin', 'Admin@123');
is($admin->{status}, 200, 'the seeded admin logs in');
my $user = "t24.agent.$run";
my $pass = "T24-Secret-$run!";
is($ng->post('/chat/api/v1/admin/agents',
              headers => { Authorization => "Bearer $admin->{json}{token}" },
              json => { username => $user, password => $pass, display_name => 'T24 Agent',
                        role => 'agent', max_active_chats => 2 })->{status},
   201, "the admin creates $user");

# --- concurrent wrong guesses ----------------------------------------------------

{
    my $victim = "t24.victim.$run";
    my @r = collect(send_burst($wide, $addr{guesses},
                               map { [$victim, "wrong-guess-$_"] } 1 .. 30));
    is(count_status(401, @r), 10,
       '30 wrong guesses at once for one username: exactly the limit of 10 are checked (401)');
    is(count_status(429, @r), 20, 'and the other 20 are refused with 429');
    ok(all_retry_after(grep { $_->{status} == 429 } @r), 'each 429 with a Retry-After of 1..300 s');
    my ($refused) = grep { $_->{status} == 429 } @r;
    is($refused && $refused->{json}{error}{code}, 'rate_limited', 'and the error code rate_limited');
    is(login_from($wide, $addr{guesses}, $victim, 'one-more-guess')->{status}, 429,
       'the next guess is refused as well');
}

# --- the per-address limit, any username --------------------------------------------

{
    my @r = map { login_from($ng, $addr{random}, "t24.random.$run.$_", "pw-$_") } 1 .. 20;
    is(count_status(401, @r), 20, '20 random usernames from one address are each 401');
    my $next = login_from($ng, $addr{random}, "t24.random.$run.21", 'pw-21');
    is($next->{status}, 429, 'a 21st username from that address is 429');
    is($next->{json}{error}{code}, 'rate_limited', 'with code rate_limited');
    ok(all_retry_after($next), 'and a Retry-After of 1..300 s');
    my $right = login_from($ng, $addr{random}, $user, $pass);
    is($right->{status}, 429, 'while the address is limited even a real agent is refused from it');
    ok(!$right->{json}{token}, 'and gets no token');
    my $elsewhere = login_from($ng, $addr{random_ok}, $user, $pass);
    is($elsewhere->{status}, 200, 'the same agent logs in from another address');
}

# --- successful logins never count ---------------------------------------------------

{
    my @fail = map { login_from($ng, $addr{success}, "t24.typo.$run.$_", 'pw') } 1 .. 19;
    is(count_status(401, @fail), 19, '19 failed logins from one address');
    my @ok = map { login_from($ng, $addr{success}, $user, $pass) } 1 .. 5;
    is(count_status(200, @ok), 5, 'then 5 successful logins from it');
    is(login_from($ng, $addr{success}, "t24.typo.$run.20", 'pw')->{status}, 401,
       'the 20th failure is still checked: the successes did not count');
    is(login_from($ng, $addr{success}, "t24.typo.$run.21", 'pw')->{status}, 429,
       'and only after it is the address limited');
}

# --- a flood from one address does not stop a login from another --------------------------

{
    my $flood = send_burst($ng, $addr{flood},
                           map { ["t24.flood.$run.$_", "flood-$_"] } 1 .. 200);
    sleep 0.5;    # let nginx take the flood in first
    my $real = login_from($ng, $addr{other}, $user, $pass);
    is($real->{status}, 200, 'during a flood of 200 logins from one address, an agent logs in from another')
        or diag("status $real->{status}: " . ($real->{body} // ''));
    ok($real->{json}{token}, 'and gets a token');
    my @r = collect($flood);
    is(count_status(401, @r) + count_status(429, @r), 200, 'every login of the flood is answered');
    cmp_ok(count_status(401, @r), '<=', 20,
           'at most the address limit of them had a password checked (401)');
    cmp_ok(count_status(429, @r), '>=', 180, 'the rest were refused with 429');
    ok(all_retry_after(grep { $_->{status} == 429 } @r), 'each with a Retry-After of 1..300 s');
}

# --- old failures are pruned ------------------------------------------------------------

{
    ChatTest::sql("INSERT INTO login_failures (username, address, at) "
                  . "SELECT 't24.old.$run.' || i, '198.51.100.' || i, timestamptz '2000-01-01' "
                  . "FROM generate_series(1, 60) i");
    is(ChatTest::sql("SELECT count(*) FROM login_failures WHERE username LIKE 't24.old.$run.%'"),
       60, '60 failures from long ago, of other usernames and addresses');
    is(login_from($ng, $addr{prune}, "t24.prune.$run", 'pw')->{status}, 401, 'a failed login');
    is(ChatTest::sql("SELECT count(*) FROM login_failures WHERE username LIKE 't24.old.$run.%'"),
       0, 'prunes them');
    is(ChatTest::sql("SELECT count(*) FROM login_failures WHERE username = 't24.prune.$run'"),
       1, 'and keeps the failure of the window');
}

$_->stop for $ng, $wide;    # each also checks its error.log
done_testing;
