# Retention and erasure (API.md "Retention"): chat_retention deletes closed conversations older
# than its age, in batches, one node at a time, with everything of theirs, and keeps open and
# recent ones; `chatctl erase --email` deletes one customer's data everywhere, prints what it
# removed, and no cached copy serves it afterwards (through Redis at once, through Postgres
# without Redis); the open WebSockets of deleted conversations are closed with 4410 on every
# node, and no other. Everything runs in a throwaway schema of the test database.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use ChatWS;
use IPC::Open3;
use Symbol qw(gensym);
use File::Path qw(make_path);
use JSON::PP ();
use POSIX ();

my $root = ChatTest::repo_root();
my $chatctl = "$root/build/core/chatctl";
die "chatctl is not built: $chatctl (make core)\n" unless -x $chatctl;

my $s = ChatTest::fresh_schema('retention_t');
my $ci = sprintf("host=127.0.0.1 port=%d dbname=chat user=chat password=chat options='-c search_path=%s'",
                 ChatTest::pg_port(), $s);
my $redis = '127.0.0.1:' . ChatTest::redis_port();
sub sql { ChatTest::sql("SET search_path = $s; $_[0]") }

sub chatctl {
    my (@args) = @_;
    local $ENV{CHAT_REDIS};
    delete $ENV{CHAT_REDIS};
    my $pid = open3(my $w, my $r, my $e = gensym, $chatctl, '--conninfo', $ci, @args);
    close $w;
    my $out = do { local $/; <$r> } // '';
    my $err = do { local $/; <$e> } // '';
    waitpid $pid, 0;
    return ($? >> 8, $out, $err);
}

my ($rc, $out, $err) = chatctl('migrate', '--dir', "$root/sql");
is($rc, 0, 'the schema migrates') or BAIL_OUT($err);

# --- the schema: every key to a conversation or a message cascades --------------------

is(sql("SELECT count(*) FROM pg_constraint WHERE contype = 'f'
         AND confrelid IN ('$s.conversations'::regclass, '$s.messages'::regclass)
         AND confdeltype <> 'c'"), 0,
   'every foreign key to conversations or messages is ON DELETE CASCADE');
cmp_ok(sql("SELECT count(*) FROM pg_constraint WHERE contype = 'f'
             AND confrelid IN ('$s.conversations'::regclass, '$s.messages'::regclass)"), '>=', 4,
       '... (notes, bot_feedback twice, the webhook outbox at least: messages have no key since 029)');

# messages go with their conversations whoever deletes them (the trigger chat_conversations_gone,
# the cascade of the key 029 dropped): an operator's DELETE of two conversations in one statement
sql("INSERT INTO conversations (id, session_id, status) VALUES
       ('00000000-0000-4000-8000-000000004901', 't49-op-1', 'automated'),
       ('00000000-0000-4000-8000-000000004902', 't49-op-2', 'automated')");
sql("INSERT INTO messages (id, conversation_id, seq, sender_type, kind, content)
     SELECT gen_random_uuid(), c, s, 'customer', 'text', 'hello'
       FROM unnest(ARRAY['00000000-0000-4000-8000-000000004901', '00000000-0000-4000-8000-000000004902']::uuid[]) c,
            generate_series(1, 3) s");
sql("DELETE FROM conversations WHERE session_id LIKE 't49-op-%'");
is(sql("SELECT count(*) FROM messages WHERE conversation_id IN
          ('00000000-0000-4000-8000-000000004901', '00000000-0000-4000-8000-000000004902')"), 0,
   "an operator's DELETE of conversations deletes their messages too");

# --- the data -------------------------------------------------------------------------

my $agent = sql("INSERT INTO agents (username, display_name, password_hash) VALUES ('t49', 'T49', 'x') RETURNING id");
# 1201 closed two hours ago (with messages, some notes and feedback), 5 closed 30 minutes ago,
# 5 open ones two hours old (a bot chat and a queued one): with chat_retention 1h the first go.
sql("INSERT INTO customers (id, created_at)
     SELECT ('00000000-0000-4000-8049-' || lpad(g::text, 12, '0'))::uuid, now() - interval '1 day'
       FROM generate_series(1, 1215) g");
sub conversations {
    my ($from, $to, $status, $closed) = @_;
    sql("INSERT INTO conversations (id, session_id, status, closed_at, customer_id, created_at, last_seq)
         SELECT ('00000000-0000-4000-9049-' || lpad(g::text, 12, '0'))::uuid, 't49-' || g, '$status', $closed,
                ('00000000-0000-4000-8049-' || lpad(g::text, 12, '0'))::uuid, now() - interval '1 day', 2
           FROM generate_series($from, $to) g");
}
conversations(1, 1200, 'closed', "now() - interval '2 hours'");
conversations(1201, 1205, 'closed', "now() - interval '30 minutes'");
conversations(1206, 1210, 'automated', 'NULL');
conversations(1211, 1215, 'agent', 'NULL');
sql("INSERT INTO messages (conversation_id, seq, sender_type, content)
     SELECT c.id, n, CASE n WHEN 1 THEN 'customer' ELSE 'bot' END, 'message ' || n
       FROM conversations c, generate_series(1, 2) n");
sql("INSERT INTO notes (conversation_id, agent_id, text, after_seq)
     SELECT id, '$agent', 'a note', 2 FROM conversations WHERE session_id IN ('t49-1', 't49-2', 't49-1201', 't49-1206')");
sql("INSERT INTO bot_feedback (message_id, conversation_id, site, helpful)
     SELECT m.id, m.conversation_id, 'default', true FROM messages m JOIN conversations c ON c.id = m.conversation_id
      WHERE m.seq = 2 AND c.session_id IN ('t49-3', 't49-1202')");
# an unmatched question of three days ago, and one of today
sql("INSERT INTO unmatched_questions (site, day, text) VALUES
     ('default', current_date - 3, 'old question'), ('default', current_date, 'new question')");

# --- one node at a time (two transactions) ---------------------------------------------

{
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # a batch of nothing (a 10-year retention) that keeps its lock for 3 s
        eval { sql("SELECT chat_retention_sweep(315360000, 500); SELECT pg_sleep(3)") };
        POSIX::_exit(0);  # not exit: the END blocks (dropping the schema) are the parent's
    }
    my $ok = ChatTest::wait_until(sub {
        sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = (chat_retention_lock_key() & 4294967295)") > 0
    }, 5);
    ok($ok, 'a batch holds the retention lock');
    is(sql("SELECT chat_retention_sweep(3600, 500)"), '{"locked": false}',
       '... and a second one at the same time returns at once without deleting anything');
    waitpid $pid, 0;
    is(sql("SELECT count(*) FROM conversations"), 1215, '... nothing was deleted');
}

# --- a conversation in the cache, closed and old ---------------------------------------

my $C = '/chat/api/v1';
sub bearer { { Authorization => "Bearer $_[0]" } }
my $ng = ChatTest::start_nginx(workers => 2, postgres => $ci, http => 'chat_retention 1h; chat_rate 1000r/s burst=1000;');
my $ng2 = ChatTest::start_nginx(workers => 2, postgres => $ci, http => 'chat_retention 1h;');

# a customer WebSocket of session token $tok on node $n, its replay read
sub socket_of {
    my ($n, $tok) = @_;
    my $ws = ChatWS->connect(port => $n->port, path => "$C/ws?after=0&token=$tok");
    ok($ws, '... whose WebSocket opens on ' . $n->name) or return undef;
    $ws->{node} = $n->name;
    ok(defined $ws->next_message(5), '... and replays');
    return $ws;
}

my $r = $ng->post("$C/session", json => {});
is($r->{status}, 200, 'a customer opens a session');
my $old = bearer($r->{json}{token});
my $old_id = $r->{json}{conversation}{id};
my $old_ws = socket_of($ng2, $r->{json}{token});
is($ng->get("$C/conversation?after=0", headers => $old)->{status}, 200, '... reads it (now cached)');
is($ng->get("$C/conversation?after=0", headers => $old)->{status}, 200, '... twice');
sql("UPDATE conversations SET status = 'closed', closed_at = now() - interval '2 hours', version = version + 1
      WHERE id = '$old_id'");

# --- retention on two nodes --------------------------------------------------------------

my $gone = ChatTest::wait_until(sub {
    sql("SELECT count(*) FROM conversations WHERE status = 'closed' AND closed_at < now() - interval '1 hour'") == 0
}, 90);
ok($gone, 'every conversation closed more than chat_retention ago is deleted');
is(sql("SELECT count(*) FROM conversations WHERE session_id LIKE 't49-%'"), 15,
   '... the 5 closed recently and the 10 open ones stay');
is(sql("SELECT count(*) FROM messages"), 30, '... with their messages only');
is(sql("SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id)"),
   0, '... and no message is left without its conversation');
is(sql("SELECT count(*) FROM notes"), 2, '... and their notes only');
is(sql("SELECT count(*) FROM bot_feedback"), 1, '... and their feedback only');
is(sql("SELECT count(*) FROM customers"), 15, 'customers left without conversations are deleted with them');
is(sql("SELECT string_agg(text, ',') FROM unmatched_questions"), 'new question',
   'unmatched questions of days before the cutoff are deleted');

# what each node says it deleted (a batch logs after its commit: wait for the last line)
sub deleted_by_nodes {
    my ($deleted, $batches) = (0, 0);
    for my $n ($ng, $ng2) {
        open my $fh, '<', $n->dir . '/error.log' or die $!;
        while (<$fh>) {
            next unless /retention deleted (\d+) conversations/;
            $deleted += $1;
            $batches++;
        }
    }
    return ($deleted, $batches);
}
ChatTest::wait_until(sub { (deleted_by_nodes())[0] >= 1201 }, 10);
my ($deleted, $batches) = deleted_by_nodes();
is($deleted, 1201, 'the nodes deleted 1201 conversations between them: none twice');
cmp_ok($batches, '>=', 3, "... in batches of at most 500 ($batches)");

ok(ChatTest::wait_until(sub { $ng->get("$C/conversation?after=0", headers => $old)->{status} == 404 }, 10),
   'the cached copy of a deleted conversation is dropped: its token reads 404');
is($old_ws->close_code(10), 4410, "the open WebSocket of the deleted conversation is closed with 4410 (the erasures' poll)");
is($old_ws->{close_reason}, 'conversation deleted', '... saying why');

# A session's old closed conversation goes while its newer one is open: the newer one's
# socket stays (sockets close by conversation, not by session).
my $k = $ng->post("$C/session", json => {})->{json};
my $kh = bearer($k->{token});
sql("UPDATE conversations SET status = 'closed', closed_at = now(), version = version + 1
      WHERE id = '$k->{conversation}{id}'");
my $k2 = $ng2->post("$C/session", headers => $kh, json => {})->{json};  # (not in $ng2's cache)
isnt($k2->{conversation}{id}, $k->{conversation}{id}, 'a session whose conversation closed opens a newer one');
my $k_ws = socket_of($ng, $k->{token});
sql("UPDATE conversations SET closed_at = now() - interval '2 hours' WHERE id = '$k->{conversation}{id}'");
ok(ChatTest::wait_until(sub { sql("SELECT count(*) FROM conversations WHERE id = '$k->{conversation}{id}'") == 0 }, 30),
   '... retention deletes the old one');
is($k_ws->close_code(5), undef, "... and the newer one's socket stays open (two polls of the erasures later)");
$k_ws->close;

# --- chatctl erase, with a warm cache ----------------------------------------------------

sub customer {
    my ($n, $email, $text) = @_;
    my $s = $n->post("$C/session", json => {})->{json};
    my $h = bearer($s->{token});
    my $p = $n->post("$C/messages", headers => $h, json => { text => $text });
    is($p->{status}, 201, "a customer writes \"$text\"");
    is($n->post("$C/identify", headers => $h, json => { email => $email })->{status}, 200, "... is $email");
    return ($h, $s, $p->{json}{messages});
}

my ($eh, $es, $emsgs) = customer($ng, 'Erase.Me@example.com', 'what colour is a mars rover');
my ($fh, $fs) = customer($ng, 'keep.me@example.com', 'what colour is a mars rover');
is($emsgs->[1]{sender_type}, 'bot', 'the bot answers');
is($ng->post("$C/feedback", headers => $eh, json => { message_id => $emsgs->[1]{id}, helpful => JSON::PP::false() })->{status},
   204, '... and the customer says it did not help');
my $conv1 = $es->{conversation}{id};
sql("UPDATE conversations SET status = 'closed', closed_at = now(), rating_score = 4, version = version + 1 WHERE id = '$conv1'");
my $s2 = $ng->post("$C/session", headers => $eh, json => {})->{json};
my $conv2 = $s2->{conversation}{id};
isnt($conv2, $conv1, 'after close the same customer opens a second conversation');
is($ng->post("$C/messages", headers => $eh, json => { text => 'second chat about rovers' })->{status}, 201, '... and writes in it');
sql("INSERT INTO notes (conversation_id, agent_id, text, after_seq) VALUES ('$conv2', '$agent', 'vip', 1)");
my $before = $ng->get("$C/conversation?after=0", headers => $eh);
is($before->{status}, 200, 'the customer reads the conversation');
my $hits = $ng->status->{counters}{cache_hits};
my $again = $ng->get("$C/conversation?after=0", headers => $eh);
is_deeply($again->{json}, $before->{json}, '... again');
cmp_ok($ng->status->{counters}{cache_hits}, '>', $hits, '... from the shared cache');
my @e_ws = map { socket_of($_, $es->{token}) } $ng, $ng2;
my $f_ws = socket_of($ng2, $fs->{token});
my $emsg_count = sql("SELECT count(*) FROM messages WHERE conversation_id IN ('$conv1', '$conv2')");
my $unmatched = sql("SELECT sum(count) FROM unmatched_questions WHERE text LIKE '%rover%'");

($rc, $out, $err) = chatctl('erase', '--email', 'erase.me@EXAMPLE.com', '--redis', $redis);
is($rc, 0, 'chatctl erase --email exits 0') or diag $err;
my %got = $out =~ /^(\w+): (\d+)/mg;
is($got{customers}, 1, '... and prints what it removed: 1 customer');
is($got{conversations}, 2, '... 2 conversations');
is($got{messages}, $emsg_count, "... $emsg_count messages");
is($got{notes}, 1, '... 1 note');
is($got{bot_feedback}, 1, '... 1 bot feedback');
is($got{ratings}, 1, '... 1 rating');
is($got{unmatched}, 2, '... 2 unmatched questions');
like($out, qr/^sessions: 1 \(told [1-9]\d* nginx workers through Redis/m, '... and that nginx was told through Redis');

is($_->close_code(5), 4410, 'the erased customer\'s WebSocket is closed with 4410 on ' . $_->{node}) for @e_ws;
is($e_ws[1]{close_reason}, 'conversation deleted', '... saying why');
my $back = ChatWS->connect(port => $ng2->port, path => "$C/ws?after=0&token=$es->{token}");
is($back && $back->close_code(5), 4410, 'a WebSocket opened again with the old token is closed with 4410 (not a reconnect code)');

my $after = $ng->get("$C/conversation?after=0", headers => $eh);
is($after->{status}, 404, 'at once the old token reads nothing (the cached copy is gone)');
unlike($after->{body}, qr/rover/, '... no old message');
my $fresh = $ng->post("$C/session", headers => $eh, json => {});
is($fresh->{status}, 200, 'the old token gets a fresh session');
ok(!grep({ $_ eq $fresh->{json}{conversation}{id} } $conv1, $conv2), '... a new conversation');
is(scalar @{ $fresh->{json}{messages} }, 1, '... holding only the greeting');
is($fresh->{json}{conversation}{customer}{email}, undef, '... of a new customer without an email');
is(sql("SELECT count(*) FROM customers WHERE lower(email) = 'erase.me\@example.com'"), 0, 'no customer row has the email');
is(sql("SELECT count(*) FROM conversations WHERE id IN ('$conv1', '$conv2')"), 0, 'no conversation of theirs is left');
is(sql("SELECT count(*) FROM messages WHERE content LIKE '%rovers%'"), 0, '... nor their messages');
is(sql("SELECT count(*) FROM messages WHERE conversation_id IN ('$conv1', '$conv2')"), 0, '... none of them');
is(sql("SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id)"),
   0, 'no message is left without its conversation');
is(sql("SELECT count(*) FROM notes WHERE text = 'vip'"), 0, '... nor notes');
is(sql("SELECT coalesce(sum(count), 0) FROM unmatched_questions WHERE text LIKE '%rover%'"), $unmatched - 2,
   "the reports' unmatched count keeps the other customer's question");

my $f = $ng->get("$C/conversation?after=0", headers => $fh);
is($f->{status}, 200, 'another customer is untouched');
like($f->{body}, qr/mars rover/, '... with their messages');
is($f->{json}{conversation}{customer}{email}, 'keep.me@example.com', '... and their email');
is($f_ws->close_code(3), undef, '... and their WebSocket stays open');
$f_ws->send_json({ type => 'ping' });
is(JSON::PP->new->decode($f_ws->next_message(5) // '{}')->{type}, 'pong', '... and answers');
$f_ws->close;

($rc, $out, $err) = chatctl('erase', '--email', 'erase.me@example.com');
is($rc, 3, 'erasing an email nobody has exits 3');
like($err, qr/no customer with email erase\.me\@example\.com/, '... saying so');
($rc, $out, $err) = chatctl('erase', '--email', 'not an email');
is($rc, 1, 'a malformed email is a usage error');
($rc, $out, $err) = chatctl('erase');
is($rc, 1, '... as is none');
for my $bad ('', ' erase.me@example.com', "erase.me\@example.com\n", 'erase.me@example.com;x') {
    ($rc, $out, $err) = chatctl('erase', '--email', $bad);
    (my $shown = $bad) =~ s/\n/\\n/g;
    is($rc, 1, "... and the email \"$shown\"");
}
($rc, $out, $err) = chatctl('erase', '--email', 'keep.me@example.com', '--site', 'Not A Site');
is($rc, 1, '... and a malformed --site');

# an email is matched whole, whatever its case: LIKE's % and _ are plain characters
my ($mh) = customer($ng, 'a_b%c@example.com', 'hello there');
my ($nh) = customer($ng, 'axbyyc@example.com', 'hello there');
($rc, $out, $err) = chatctl('erase', '--email', 'A_B%C@Example.COM');
is($rc, 0, 'erasing an email with % and _ in it exits 0') or diag $err;
like($out, qr/^customers: 1$/m, '... and removes its one customer');
is(sql("SELECT count(*) FROM customers WHERE email = 'axbyyc\@example.com'"), 1,
   '... not one whose email the pattern would match');
is($ng->get("$C/conversation?after=0", headers => $nh)->{status}, 200, '... who still reads their conversation');
($rc, $out, $err) = chatctl('erase', '--email', 'a%@example.com');
is($rc, 3, 'an email of % matches nobody (exit 3)');

# --- without Redis: the cached copy goes through Postgres -------------------------------

my $ng3 = ChatTest::start_nginx(workers => 2, postgres => $ci, no_redis => 1);
my ($gh, $gs) = customer($ng3, 'no.redis@example.com', 'hello there');
my $g_ws = socket_of($ng3, $gs->{token});
is($ng3->get("$C/conversation?after=0", headers => $gh)->{status}, 200, 'a customer of a node without Redis reads');
is($ng3->get("$C/conversation?after=0", headers => $gh)->{status}, 200, '... from the cache');
($rc, $out, $err) = chatctl('erase', '--email', 'no.redis@example.com', '--site', 'another-shop');
is($rc, 3, 'erase --site of another site finds nobody (exit 3)');
is(sql("SELECT count(*) FROM customers WHERE email = 'no.redis\@example.com'"), 1, '... and deletes nothing');
($rc, $out, $err) = chatctl('erase', '--email', 'no.redis@example.com', '--site', 'default');
is($rc, 0, 'chatctl erase --site default without Redis exits 0') or diag $err;
like($out, qr/^sessions: 1 \(no Redis given/m, '... saying Redis was not told');
ok(ChatTest::wait_until(sub { $ng3->get("$C/conversation?after=0", headers => $gh)->{status} == 404 }, 10),
   '... and within seconds the old token reads nothing');
is($g_ws->close_code(10), 4410, '... and its WebSocket is closed with 4410 (the erasures\' poll, without Redis)');

# --- the directive ------------------------------------------------------------------------

# (a copy of the running config in a directory of its own, so its error.log stays clean)
my $bad_dir = $ng->dir . '/bad';
make_path("$bad_dir/tmp");
for my $bad ('0', '2x', '3651d', 'on') {
    my $conf = "$bad_dir/nginx.conf";
    open my $cf, '<', $ng->dir . '/nginx.conf' or die $!;
    my $text = do { local $/; <$cf> };
    my $dir = $ng->dir;
    $text =~ s/\Q$dir\E/$bad_dir/g;
    $text =~ s/chat_retention 1h;/chat_retention $bad;/ or die 'no chat_retention';
    open my $w, '>', $conf or die $!;
    print $w $text;
    close $w;
    my ($ok, $msg) = ChatTest::nginx_test($conf);
    ok(!$ok, "nginx -t refuses chat_retention $bad");
    like($msg, qr/invalid chat_retention "\Q$bad\E", expected off or a time of 1s\.\.3650d/, '... saying why');
}

$_->stop for $ng, $ng2, $ng3;
done_testing();
