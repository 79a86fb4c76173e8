# Group commit of customer posts (core/src/pg_pool.cpp query_batched, SQL
# chat_customer_post_batch): with one worker and one Postgres connection held busy,
# concurrent posts from many sessions queue up and go as batches; every post still gets
# its own answer (201, or its own error for a closed conversation or a session without
# one), a client_id posted twice at once is written once, seq stays gapless per
# conversation, and each message reaches its socket exactly once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use ChatWS;
use File::Temp ();
use JSON::PP ();
use POSIX ();
use IO::Socket::INET;
use Time::HiRes ();
use IO::Select;

my $ng = ChatTest::start_nginx(workers => 1, pool => 1, http => 'chat_rate 1000r/s burst=1000;');
my $api = '/chat/api/v1';

sub session {
    my $r = $ng->post("$api/session", json => {});
    die "no session\n" unless $r->{status} == 200;
    return { token => $r->{json}{token}, conv => $r->{json}{conversation}{id},
             auth => { Authorization => "Bearer $r->{json}{token}" } };
}
my $n = 0;
sub uuid { sprintf('00000000-0000-4000-a000-%012d', $$ * 10000 + ++$n) }

my @s = map { session() } 1 .. 10;
my $closed = session();
my $gone = session();
my $hold = session();
ChatTest::sql("UPDATE conversations SET status = 'closed', closed_at = now() WHERE id = '$closed->{conv}'");
ChatTest::sql("DELETE FROM conversations WHERE id = '$gone->{conv}'");

# sockets on three sessions, to see each new message exactly once
my @ws = map { ChatWS->connect(port => $ng->port, path => "$api/ws?after=1&token=$s[$_]{token}") } 0 .. 2;
ok(!grep({ !$_ } @ws), 'three customer sockets are open');
$_->drain(0.5) for @ws;

# the jobs: 10 sessions x 6 posts, posts to the closed and the deleted conversation, and
# one client_id sent twice at once on one session
my $dup = uuid();
my @jobs;
for my $i (1 .. 6) { push @jobs, map { { s => $_, cid => uuid(), text => "m$i from $_" } } 0 .. 9 }
splice @jobs, 7, 0, { s => 'closed', cid => uuid(), text => 'to a closed chat' };
splice @jobs, 20, 0, { s => 'gone', cid => uuid(), text => 'to no chat' };
splice @jobs, 3, 0, { s => 4, cid => $dup, text => 'twice at once' };
splice @jobs, 30, 0, { s => 4, cid => $dup, text => 'twice at once' };
sub who { my $k = shift; $k eq 'closed' ? $closed : $k eq 'gone' ? $gone : $k eq 'hold' ? $hold : $s[$k] }
# Another transaction holds a conversation's row until the test ends it ($locker->release);
# returned once the row is locked. No timer ends the hold.
sub hold_row {
    my ($conv) = @_;
    return ChatTest::hold_locks("SELECT id FROM conversations WHERE id = '$conv' FOR UPDATE");
}
# A post to a held row holds the pool's only connection: its batch gives up on the row after
# 50 ms (lock_timeout, 55P03), then it is posted again alone (chat_customer_post) and waits for
# the row for as long as it is held. Returns once it waits so.
sub wait_held_post {
    ChatTest::wait_until(sub {
        ChatTest::sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT chat_customer_post(%' "
                      . "AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')") > 0
    }, 10, 0.02) or diag('the held post did not wait for the row in time');
}
# A request on a socket of its own; answer() reads its answer, (status, body), when it was sent
# as HTTP/1.0 (nginx closes the socket after it).
sub send_request {
    my ($head, $body) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ng->port, Proto => 'tcp')
        or die "connect: $!\n";
    $c->autoflush(1);
    print $c $head . (defined $body ? "Content-Length: " . length($body) . "\r\n\r\n$body" : "\r\n");
    return $c;
}
sub answer {
    my ($c) = @_;
    my $all = IO::Select->new($c)->can_read(30) ? do { local $/; <$c> } // '' : '';
    my ($code, $body) = $all =~ m{\AHTTP/1\.\d (\d+) .*?\r\n\r\n(.*)\z}s;
    return ($code // 0, $body // '');
}
# /proc/net/tcp's queues of the connections between a local port and nginx's: sent and not yet
# acknowledged by the other side (the client's end), received and not yet read (nginx's end).
sub tcp_queues {
    my %q;
    my $ng_port = sprintf('%04X', $ng->port);
    open my $fh, '<', '/proc/net/tcp' or die "/proc/net/tcp: $!";
    while (<$fh>) {
        my ($l, $r, $tx, $rx) = /^\s*\d+: [0-9A-F]+:([0-9A-F]+) [0-9A-F]+:([0-9A-F]+) 01 ([0-9A-F]+):([0-9A-F]+)/ or next;
        $q{ hex $l }{tx} = hex $tx if $r eq $ng_port;
        $q{ hex $r }{rx} = hex $rx if $l eq $ng_port;
    }
    return \%q;
}
# Returns once nginx has read everything sent on these sockets (or from these local ports): it
# reached nginx's end (acknowledged), then a later look finds nothing unread there. nginx handles
# a request in the turn of its loop that read it: a post is queued in the pool then (no
# connection is free).
sub read_by_nginx {
    my @ports = map { ref $_ ? $_->sockport : $_ } @_;
    return ChatTest::wait_until(sub { my $q = tcp_queues(); !grep { ($q->{$_}{tx} // 1) != 0 } @ports }, 10, 0.005)
        && ChatTest::wait_until(sub { my $q = tcp_queues(); !grep { ($q->{$_}{rx} // 1) != 0 } @ports }, 10, 0.005);
}

my $before = $ng->status->{postgres};

# Hold the only connection: a post on a conversation row another transaction holds waits
# until that ends, so everything posted meanwhile queues behind it (for less than the pool's
# queue timeout of 1 s, after which a waiting request is answered 503). No timer ends the hold:
# the row stays locked until the held post waits for it (posted again alone, chat_customer_post)
# and nginx has read the first post of every posting process (they are queued in the pool: no
# connection is free); then the posts go as batches.
my $locker = hold_row($hold->{conv});
my $dir = File::Temp::tempdir(CLEANUP => 1);
pipe(my $sent_r, my $sent_w) or die "pipe: $!";
sub poster {   # forks a process posting the given jobs one after another, answers into files
    my (@list) = @_;
    my $pid = fork // die;
    return $pid if $pid;
    close $sent_r;
    for my $j (@list) {
        # the whole request in one write (send_request), as HTTP/1.0: answered, then closed
        my $c = send_request("POST $api/messages HTTP/1.0\r\nHost: localhost\r\n"
                             . "Authorization: " . who($j->{s})->{auth}{Authorization} . "\r\n"
                             . "Content-Type: application/json\r\n",
                             JSON::PP->new->encode({ text => $j->{text}, client_id => $j->{cid} }));
        # after the first post is sent: its local port, for read_by_nginx (one line, written whole)
        if ($sent_w) { syswrite($sent_w, $c->sockport . "\n"); close $sent_w; undef $sent_w }
        my ($code, $body) = answer($c);
        open my $fh, '>', "$dir/$j->{idx}" or POSIX::_exit(2);
        print $fh "$code\n$body";
        close $fh;
    }
    POSIX::_exit(0);
}
$jobs[$_]{idx} = $_ for 0 .. $#jobs;
my @pids = (poster({ s => 'hold', cid => uuid(), text => 'held', idx => 'hold' }));
wait_held_post();   # the held post takes the connection first
my $procs = 8;
for my $p (0 .. $procs - 1) {
    push @pids, poster(map { $jobs[$_] } grep { $_ % $procs == $p } 0 .. $#jobs);
}
close $sent_w;
my @first = map { scalar <$sent_r> // () } 0 .. $procs;   # the held post's port and the 8 first posts'
chomp @first;
read_by_nginx(@first) or diag('nginx did not read the first posts in time');
$locker->release;
close $sent_r;
my $failed = 0;
for (@pids) { waitpid($_, 0); $failed++ if $? }
is($failed, 0, 'every posting process finished');

my %ans;
for my $j (@jobs, { idx => 'hold' }) {
    open my $fh, '<', "$dir/$j->{idx}" or next;
    local $/;
    my ($st, $body) = split /\n/, <$fh>, 2;
    $ans{ $j->{idx} } = { status => $st, json => eval { JSON::PP->new->decode($body) } };
}
is(scalar(keys %ans), @jobs + 1, 'every post has an answer');
is($ans{hold}{status}, 201, 'the held post answers 201 after the lock is gone');

my (%bad, %ids_of_dup);
for my $j (@jobs) {
    my $a = $ans{ $j->{idx} } // next;
    if ($j->{s} eq 'closed') {
        is($a->{status}, 409, 'a post to a closed conversation is 409');
        is($a->{json}{error}{code}, 'invalid_state', 'invalid_state, for that post alone');
    } elsif ($j->{s} eq 'gone') {
        is($a->{status}, 404, 'a post for a session without a conversation is 404');
        is($a->{json}{error}{code}, 'not_found', 'not_found, for that post alone');
    } else {
        $bad{ $j->{idx} } = $a->{status} if $a->{status} != 201;
        my ($mine) = grep { $_->{sender_type} eq 'customer' } @{ $a->{json}{messages} // [] };
        $bad{"content $j->{idx}"} = 1 unless $mine && $mine->{content} eq $j->{text};
        $bad{"conv $j->{idx}"} = 1 unless ($a->{json}{conversation}{id} // '') eq $s[$j->{s}]{conv};
        $ids_of_dup{ $mine->{id} }++ if $mine && $j->{cid} eq $dup;
    }
}
diag(explain(\%bad)) if %bad;
is_deeply(\%bad, {}, 'every other post answers 201 with its own message in its own conversation');
is(scalar(keys %ids_of_dup), 1, 'the client_id posted twice at once answers the same message twice');

my %last;
for my $i (0 .. 9) {
    my $c = $ng->get("$api/conversation?after=0&limit=200", headers => $s[$i]{auth})->{json};
    my @seq = map { $_->{seq} } @{ $c->{messages} };
    is_deeply(\@seq, [ 1 .. $c->{conversation}{last_seq} ], "session $i: seq has no gaps");
    my @mine = grep { $_->{sender_type} eq 'customer' } @{ $c->{messages} };
    is(scalar(@mine), $i == 4 ? 7 : 6, "session $i: each client_id written once");
    $last{$i} = $c->{conversation}{last_seq};
}
is(ChatTest::sql("SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                 . "WHERE c.id = '$closed->{conv}' AND m.content = 'to a closed chat'"), 0,
   'nothing was written to the closed conversation');

my $after = $ng->status->{postgres};
my $batches = $after->{batches} - $before->{batches};
my $items = $after->{batched_items} - $before->{batched_items};
cmp_ok($items, '>=', scalar(@jobs), 'every post went through the batch query');
cmp_ok($batches, '<', $items, 'posts that queued up shared a batch (one transaction for several)');
note("$items posts in $batches batches");

for my $k (0 .. 2) {
    my %seen;
    $seen{ $_->{data}{seq} }++ for grep { $_->{type} eq 'message.created' } $ws[$k]->drain(1.5);
    is_deeply([ sort { $a <=> $b } keys %seen ], [ 2 .. $last{$k} ], "socket $k: every new message arrived");
    is(scalar(grep { $_ != 1 } values %seen), 0, "socket $k: each exactly once");
}

# One batch called directly, so that its mix is certain (through nginx it depends on timing):
# each conversation's first new post is written set-based; a second post of a conversation, a
# replay (of this batch's post or of an earlier one), a closed conversation, a session without
# one and a row another transaction holds each take the per-item path, with their own answer.
{
    my ($x, $y, $z, $w) = map { session() } 1 .. 4;
    my $earlier = uuid();
    is($ng->post("$api/messages", json => { text => 'before the batch', client_id => $earlier },
                 headers => $z->{auth})->{status}, 201, 'a post before the batch');
    my %sid = map { $_ => ChatTest::sql("SELECT session_id FROM conversations WHERE id = '$_'") }
              map { $_->{conv} } $x, $y, $z, $w, $closed;
    my ($c1, $c2, $c3) = (uuid(), uuid(), uuid());
    my @items = (   # [session id, client_id, text]
        [ $sid{ $x->{conv} }, $c1, 'x first' ],
        [ $sid{ $y->{conv} }, $c2, 'y first' ],
        [ $sid{ $x->{conv} }, $c3, 'x second' ],
        [ $sid{ $x->{conv} }, $c1, 'x first' ],
        [ $sid{ $closed->{conv} }, uuid(), 'to the closed one' ],
        [ 'no-such-session', uuid(), 'to nobody' ],
        [ $sid{ $y->{conv} }, undef, 'y without client_id' ],
        [ $sid{ $z->{conv} }, $earlier, 'before the batch' ],
        [ $sid{ $w->{conv} }, uuid(), 'w, row held by another transaction' ],
    );
    my $arr = sub { my ($i, $cast) = @_;
        'ARRAY[' . join(',', map { defined $_->[$i] ? "'$_->[$i]'" : 'NULL' } @items) . "]::$cast" };
    my $n = @items;
    my $locker = hold_row($w->{conv});
    # psql's stderr too: the batch says WARNING in it when its set-based write failed. An item
    # written set-based answers typed columns (never a replay: "false"; its message and the
    # bot's reply), every other one chat_customer_post's JSON.
    my $file = File::Temp->new(SUFFIX => '.sql');
    print $file "SELECT coalesce(err_state, ''), "
        . "coalesce(CASE WHEN a IS NULL AND c_id IS NOT NULL THEN 'false' ELSE a->>'replayed' END, ''), "
        . "coalesce(CASE WHEN a IS NULL AND c_id IS NOT NULL "
        . "THEN concat_ws(',', m_seq || ':' || m_sender_type, r_seq || ':' || r_sender_type) ELSE "
        . "(SELECT string_agg(m->>'seq' || ':' || (m->>'sender_type'), ',') FROM jsonb_array_elements(a->'messages') m) END, '') "
        . "FROM (SELECT b.*, answer::jsonb AS a FROM chat_customer_post_batch("
        . join(', ', $arr->(0, 'text[]'), $arr->(1, 'uuid[]'), "array_fill('text'::text, ARRAY[$n])",
               $arr->(2, 'text[]'), "array_fill('the bot'::text, ARRAY[$n])",
               "array_fill('{}'::jsonb, ARRAY[$n])")
        . ") WITH ORDINALITY AS b) r ORDER BY ordinality;\n";
    close $file;
    my $out = do { local $ENV{PGPASSWORD} = 'chat';
                   `psql -X -q -At -h 127.0.0.1 -p @{[ ChatTest::pg_port() ]} -U chat -d chat -f $file 2>&1` };
    $locker->release;   # held for as long as the batch ran, whatever its speed
    is_deeply([ split /\n/, $out ], [
        '|false|2:customer,3:bot',
        '|false|2:customer,3:bot',
        '|false|4:customer,5:bot',
        '|true|2:customer,3:bot',
        'CH409||',
        'CH404||',
        '|false|4:customer,5:bot',
        '|true|2:customer,3:bot',
        '55P03||',
    ], 'each item of a mixed batch has its own answer, numbered in batch order, or its own error '
       . '(and the set-based write did not fail)');
    is(ChatTest::sql("SELECT string_agg(seq || ':' || sender_type || ':' || content, ',' ORDER BY seq) "
                     . "FROM messages WHERE conversation_id = '$x->{conv}' AND seq > 1"),
       'x first' =~ s/^/2:customer:/r . ',3:bot:the bot,4:customer:x second,5:bot:the bot',
       'the conversation with two posts in the batch holds each once, in order');
    is(ChatTest::sql("SELECT last_seq || '/' || agent_unread || '/' || customer_unread "
                     . "FROM conversations WHERE id = '$y->{conv}'"),
       '5/2/' . ChatTest::sql("SELECT count(*) FROM messages WHERE conversation_id = '$y->{conv}' "
                              . "AND sender_type <> 'customer' AND read_at IS NULL"),
       'last_seq and the unread counters count what was written');
    is(ChatTest::sql("SELECT count(*) FROM messages WHERE conversation_id = '$w->{conv}'"), 1,
       'nothing was written for the item whose row was held (core posts it again alone)');
}

# Written set-based, a post the bot could not answer counts for the reports' "unmatched"
# questions as one posted alone does (chat_count_unmatched); an answered one does not.
{
    my ($u, $v) = map { session() } 1 .. 2;
    my %sid = map { $_ => ChatTest::sql("SELECT session_id FROM conversations WHERE id = '$_'") }
              map { $_->{conv} } $u, $v;
    my ($q1, $q2) = ("unanswerable question $$ " . time, "answered question $$ " . time);
    my $out = ChatTest::sql("SELECT count(*) FILTER (WHERE err_state IS NULL) FROM chat_customer_post_batch("
        . "ARRAY['$sid{ $u->{conv} }', '$sid{ $v->{conv} }'], ARRAY['" . uuid() . "', '" . uuid() . "']::uuid[], "
        . "ARRAY['text', 'text'], ARRAY['$q1', '$q2'], ARRAY['sorry', 'the answer'], "
        . "ARRAY['{\"fallback\": true}', '{\"faq\": \"returns\"}']::jsonb[])");
    is($out, 2, 'both posts of the batch are written');
    is(ChatTest::sql("SELECT coalesce(sum(count), 0) FROM unmatched_questions WHERE text = '$q1'"), 1,
       'the question the bot fell back on is counted once');
    is(ChatTest::sql("SELECT coalesce(sum(count), 0) FROM unmatched_questions WHERE text = '$q2'"), 0,
       'the answered one is not');
}

# A batch whose set-based write fails (here a trigger rejects one post's text) fails as a whole
# (that write runs in no subtransaction): core then posts each of its items again on its own, so
# the failing post gets its error alone and every other post of the batch is written once.
{
    my @p = map { session() } 1 .. 6;
    my $held = session();
    my $poison = "poisoned post $$";
    ChatTest::sql("CREATE FUNCTION test_poison_$$() RETURNS trigger LANGUAGE plpgsql AS "
                  . "\$\$BEGIN RAISE EXCEPTION 'poisoned'; END\$\$");
    ChatTest::sql("CREATE TRIGGER test_poison_$$ BEFORE INSERT ON messages FOR EACH ROW "
                  . "WHEN (NEW.content = '$poison') EXECUTE FUNCTION test_poison_$$()");
    my $before = $ng->status->{postgres};
    my $locker = hold_row($held->{conv});
    my %jobs = map { ("p$_" => { s => $p[$_], text => $_ == 3 ? $poison : "fine post $_" }) } 0 .. 5;
    my $post = sub {
        my ($who, $text, $file) = @_;
        my $pid = fork // die;
        return $pid if $pid;
        my $res = HTTP::Tiny->new(timeout => 30)->request('POST', $ng->url("$api/messages"), {
            headers => { %{ $who->{auth} }, 'Content-Type' => 'application/json' },
            content => JSON::PP->new->encode({ text => $text, client_id => uuid() }) });
        open my $fh, '>', "$dir/$file" or POSIX::_exit(2);
        print $fh "$res->{status}\n$res->{content}";
        close $fh;
        POSIX::_exit(0);
    };
    my @pids = ($post->($held, 'held again', 'held2'));
    wait_held_post();
    # the six queue behind the held post, to go as one batch with the poisoned post in it: the
    # locker ends once nginx has read them all (no timer)
    my %sock = map {
        ($_ => send_request("POST $api/messages HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer $jobs{$_}{s}{token}\r\n"
                            . "Content-Type: application/json\r\n",
                            JSON::PP->new->encode({ text => $jobs{$_}{text}, client_id => uuid() })))
    } sort keys %jobs;
    read_by_nginx(values %sock) or diag('nginx did not read the six posts in time');
    $locker->release;
    for my $f (sort keys %sock) {
        my ($code, $body) = answer($sock{$f});
        open my $fh, '>', "$dir/$f" or die "$dir/$f: $!";
        print $fh "$code\n$body";
        close $fh;
    }
    waitpid($_, 0) for @pids;
    ChatTest::sql("DROP TRIGGER test_poison_$$ ON messages");
    ChatTest::sql("DROP FUNCTION test_poison_$$()");
    my %st;
    for my $f (sort keys %jobs) {
        open my $fh, '<', "$dir/$f" or next;
        local $/;
        my ($code, $body) = split /\n/, <$fh>, 2;
        my $j = eval { JSON::PP->new->decode($body) } // {};
        my ($mine) = grep { $_->{sender_type} eq 'customer' } @{ $j->{messages} // [] };
        $st{$f} = $code == 201 ? ($mine && $mine->{content} eq $jobs{$f}{text} ? 'own' : 'other')
                               : "$code " . ($j->{error}{code} // '');
    }
    is_deeply(\%st, { p0 => 'own', p1 => 'own', p2 => 'own', p3 => '500 internal', p4 => 'own', p5 => 'own' },
              'the poisoned post fails alone; each other post of its batch is written');
    my $after = $ng->status->{postgres};
    cmp_ok($after->{batched_items} - $before->{batched_items}, '>',
           $after->{batches} - $before->{batches}, 'the posts queued up and shared a batch');
    is(ChatTest::sql("SELECT count(*) FROM messages WHERE content = '$poison'"), 0,
       'nothing of the poisoned post was written');
    is(ChatTest::sql("SELECT count(*) FROM messages WHERE content LIKE 'fine post %' AND conversation_id IN ("
                     . join(',', map { "'$_->{conv}'" } @p) . ")"), 5, 'each other post was written once');
}

# Customers who hang up while their posts wait for the pool (the only connection held, as above):
# each post is still written once and the worker keeps serving: the same client_id posted again
# answers the stored message and writes nothing. (nginx does not read a connection whose post
# waits, so it learns of the hang-up only when the answer, after commit, meets the closed socket:
# the access log says 201, the write fails, the request ends as any other.)
# No timer ends the hold: the row stays locked until the test has seen the held post wait for it
# (posted again alone, chat_customer_post), nginx read the four posts (they are queued in the
# same turn of its loop: no connection is free) and a status request (it waits in the pool too:
# /chat/status asks Postgres, so it cannot answer before the release), and the customers hung up.
# Then the test ends the locker: the status's query goes first (plain queries go before the
# end of the loop's turn, batched items at it) and reports the four posts still waiting. The
# one bound in time left is the pool's queue timeout (1 s) from the posts queuing to the
# release, in which the test only reads /proc/net/tcp, closes sockets and sends ROLLBACK.
{
    my @g = map { session() } 1 .. 4;
    my $held = session();
    my $locker = hold_row($held->{conv});
    my $heldpid = fork // die;
    if (!$heldpid) {
        HTTP::Tiny->new(timeout => 30)->request('POST', $ng->url("$api/messages"), {
            headers => { %{ $held->{auth} }, 'Content-Type' => 'application/json' },
            content => JSON::PP->new->encode({ text => 'held a third time', client_id => uuid() }) });
        POSIX::_exit(0);
    }
    wait_held_post();
    my @cid = map { uuid() } @g;
    my $t0 = Time::HiRes::time();
    my @socks = map {
        send_request("POST $api/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $g[$_]{token}\r\n"
                . "Content-Type: application/json\r\n",
                JSON::PP->new->encode({ text => "hung up $_", client_id => $cid[$_] }))
    } 0 .. $#g;
    my $status = send_request("GET /chat/status HTTP/1.0\r\nHost: localhost\r\n");
    read_by_nginx(@socks, $status) or diag('nginx did not read the four posts and the status request in time');
    my $t1 = Time::HiRes::time();
    close $_ for @socks;
    $locker->release;
    note(sprintf('the four posts were sent %.0f ms before nginx had read them, %.0f ms before the locker ended',
                 map { 1000 * ($_ - $t0) } $t1, Time::HiRes::time()));
    my (undef, $json) = answer($status);
    ok((eval { JSON::PP->new->decode($json) }->{postgres}{queued} // 0) >= @g,
       'the four posts wait in the pool for the held connection');
    waitpid($heldpid, 0);
    my $ids = join(',', map { "'$_'" } @cid);
    ok(ChatTest::wait_until(sub {
        ChatTest::sql("SELECT count(*) FROM messages WHERE client_id IN ($ids)") == @g
    }, 10), 'each post of a customer who hung up is written');
    is(ChatTest::sql("SELECT count(*) FROM messages WHERE client_id IN ($ids)"), scalar(@g),
       'once each');
    my $again = $ng->post("$api/messages", headers => $g[0]{auth},
                          json => { text => 'hung up 0', client_id => $cid[0] });
    is($again->{status}, 201, 'the same client_id again is answered');
    my ($mine) = grep { $_->{sender_type} eq 'customer' } @{ $again->{json}{messages} // [] };
    is($mine && $mine->{id}, ChatTest::sql("SELECT id FROM messages WHERE client_id = '$cid[0]'"),
       'with the message written while the customer was gone');
    is(ChatTest::sql("SELECT count(*) FROM messages WHERE client_id = '$cid[0]'"), 1, 'and nothing more');
}

$ng->stop;
done_testing();
