# Webhooks (API.md "Webhooks (transactional outbox)", "Admin"): the admin API (201, 409 on a
# url the site has, 422 naming bad fields, 400 for missing ones, 403 for non-admins, 409 past
# 20 webhooks on a site, the secret never read back, another site's id 404); deliveries
# POSTed to real receivers (Perl servers in forked children) signed with X-Chat-Signature,
# each event once with its id, filtered by the webhook's events, kept per site; a receiver
# that fails (500) and recovers gets every event again, in order; a receiver that never
# answers does not hold back another webhook; conversation.offline_reply and
# conversation.rated; /chat/status counts and each webhook's backlog; a conversation.updated
# sent after later changes describes its own change; the outbox triggers exist only while a
# webhook exists.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use WebhookReceiver;
use JSON::PP ();
use IO::Socket::INET;
use Digest::SHA qw(hmac_sha256_hex);
use POSIX ();
use Time::HiRes ();

my $JSON = JSON::PP->new->utf8->canonical;
my $run = sprintf('%d%d', $$, time % 100000);
my $S2 = 't48-shop';

ChatTest::sql("UPDATE agents SET presence = 'offline' WHERE presence <> 'offline';
               UPDATE conversations SET status = 'closed', closed_at = now() WHERE status <> 'closed'");
# webhooks of an earlier, interrupted run of this file
ChatTest::sql("DELETE FROM webhooks WHERE url LIKE 'http://127.0.0.1:%/hook/%?run=%'; SELECT chat_webhook_triggers()");
my $others = ChatTest::sql("SELECT count(*) FROM webhooks");
my $TRIGGERS = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'chat_outbox_%' AND tgrelid IN "
             . "('messages'::regclass, 'conversations'::regclass, 'notes'::regclass, 'agents'::regclass)";

my $ng = ChatTest::start_nginx(workers => 2,
    http => "chat_rate 1000r/s burst=1000;\n    chat_webhook_backoff 200ms;\n    chat_webhook_private on;",
    server => "        location /shop/chat/api/ { chat_api; chat_site $S2; }\n");
my $C = '/chat/api/v1';
my $C2 = '/shop/chat/api/v1';
sub bearer { { Authorization => "Bearer $_[0]" } }
sub login {
    my ($u, $p, $base) = @_;
    my $r = $ng->post(($base // $C) . '/agent/login', json => { username => $u, password => $p });
    die "login $u: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json};
}
my $admin_login = login('admin', 'Admin@123');
my $admin = bearer($admin_login->{token});

# --- receivers ------------------------------------------------------------------------------
# A receiver records each request as one JSON line (arrival time, headers, body, the status it
# answered) in its file. mode: 'ok' answers 204; 'fail N' answers 500 to the first N requests,
# then 204; 'hang' accepts, reads, records and never answers (holding the connection).
my $dir = ChatTest::var_dir() . "/t/48-receivers-$run";
mkdir $dir;
sub receiver {
    my ($name, $mode) = @_;
    my $r = WebhookReceiver::start(dir => $dir, name => $name, mode => $mode);
    $r->{url} = "http://127.0.0.1:$r->{port}/hook/$name?run=$run";
    return $r;
}
sub received { WebhookReceiver::received(@_) }    # the requests a receiver recorded, decoded
sub events_of {    # delivered (2xx) events of one conversation, in arrival order
    my ($r, $conv, $type) = @_;
    [ grep { $_->{status} >= 200 && $_->{status} < 300 && $_->{event}
             && (!$type || $_->{event}{type} eq $type)
             && (($_->{event}{data}{conversation_id} // $_->{event}{data}{id} // '') eq $conv
                 || ($_->{event}{data}{conversation}{id} // '') eq $conv) } @{ received($r) } ];
}

# --- admin API -----------------------------------------------------------------------------
my $rx = receiver('main', 'ok');
my $secret = "s3cret-$run-abcdefgh";
my $r = $ng->post("$C/admin/webhooks", headers => $admin,
                  json => { url => $rx->{url}, events => ['message.created', 'chat.closed', 'message.created'],
                            secret => $secret });
is($r->{status}, 201, 'POST /admin/webhooks creates a webhook: 201') or diag $r->{body};
my $hook = $r->{json}{webhook};
is_deeply([sort keys %$hook], [qw(backlog created_at events failing id last_delivered_at last_error last_error_at url)],
          '... read back as {id, url, events, created_at, last_delivered_at, last_error, last_error_at, '
          . 'failing, backlog}, no secret');
is_deeply($hook->{events}, ['message.created', 'chat.closed'], '... events deduplicated, in the order given');
is($hook->{backlog}, 0, '... backlog 0');
ok(!defined $hook->{last_error} && !defined $hook->{last_delivered_at}, '... nothing delivered or failed yet');
ok(!defined $hook->{last_error_at} && JSON::PP::is_bool($hook->{failing}) && !$hook->{failing}, '... and not failing');
unlike($r->{body}, qr/\Q$secret\E/, '... the secret is not in the answer');
my $stored = ChatTest::sql("SELECT secret FROM webhooks WHERE id = '$hook->{id}'");
like($stored, qr/^v1\./, '... and is stored encrypted (sealed with a key derived from chat_secret)');
unlike($stored, qr/\Q$secret\E/, '... not as given');
is(ChatTest::sql($TRIGGERS), 4,
   'the outbox triggers exist while a webhook does');

$r = $ng->post("$C/admin/webhooks", headers => $admin,
               json => { url => $rx->{url}, events => ['chat.closed'], secret => $secret });
is($r->{status}, 409, 'the same url again on the site: 409');
is($r->{json}{error}{code}, 'conflict', '... conflict');

for my $case (
    [{ url => 'gopher://127.0.0.1/x', events => ['chat.closed'], secret => $secret }, 'url', qr/https/],
    [{ url => 'ftp://127.0.0.1/x', events => ['chat.closed'], secret => $secret }, 'url'],
    [{ url => 'https://user@shop.example.com/x', events => ['chat.closed'], secret => $secret }, 'url', qr/user info/],
    [{ url => 'https://shop.example.com:99999/x', events => ['chat.closed'], secret => $secret }, 'url', qr/port/],
    [{ url => 'http://shop..example.com/x', events => ['chat.closed'], secret => $secret }, 'url', qr/host/],
    [{ url => 'http://127.0.0.1/' . ('a' x 2100), events => ['chat.closed'], secret => $secret }, 'url'],
    [{ url => $rx->{url} . '2', events => [], secret => $secret }, 'events'],
    [{ url => $rx->{url} . '2', events => ['typing'], secret => $secret }, 'events'],
    [{ url => $rx->{url} . '2', events => ['chat.closed'], secret => 'short' }, 'secret'],
    [{ url => $rx->{url} . '2', events => ['chat.closed'], secret => 'x' x 300 }, 'secret'],
) {
    my ($body, $field, $msg) = @$case;
    my $v = $ng->post("$C/admin/webhooks", headers => $admin, json => $body);
    is($v->{status}, 422, "422 for a bad $field") or diag $v->{body};
    like($v->{json}{error}{message} // '', qr/^\Q$field\E/, "... naming $field");
    like($v->{json}{error}{message} // '', $msg, '... saying why') if $msg;
}
$r = $ng->post("$C/admin/webhooks", headers => $admin, json => { url => $rx->{url} . '2', events => ['chat.closed'] });
is($r->{status}, 400, 'a missing secret: 400');

# an agent is not an admin
my $u = "t48.agent.$run";
$r = $ng->post("$C/admin/agents", headers => $admin,
               json => { username => $u, password => "T48-Pass-$run", display_name => "T48 $run", role => 'agent' });
die "agent: $r->{status}" unless $r->{status} == 201;
my $agent_id = $r->{json}{agent}{id};
my $agent = bearer(login($u, "T48-Pass-$run")->{token});
is($ng->get("$C/admin/webhooks", headers => $agent)->{status}, 403, 'GET /admin/webhooks as an agent: 403');
is($ng->post("$C/admin/webhooks", headers => $agent,
             json => { url => $rx->{url} . '3', events => ['chat.closed'], secret => $secret })->{status},
   403, 'POST /admin/webhooks as an agent: 403');

# an admin of the other site
my $u2 = "t48.admin2.$run";
$r = $ng->post("$C/admin/agents", headers => $admin,
               json => { username => $u2, password => "T48-Pass2-$run", display_name => "T48 admin2 $run",
                         role => 'admin' });
die "admin2: $r->{status} $r->{body}" unless $r->{status} == 201;
ChatTest::sql("UPDATE agents SET sites = ARRAY['$S2'] WHERE id = '$r->{json}{agent}{id}'");
my $admin2 = bearer(login($u2, "T48-Pass2-$run", $C2)->{token});
my $rx2 = receiver('site2', 'ok');
$r = $ng->post("$C2/admin/webhooks", headers => $admin2,
               json => { url => $rx2->{url}, events => ['message.created'], secret => "other-$secret" });
is($r->{status}, 201, "the other site's admin creates its own webhook") or diag $r->{body};
my $hook2 = $r->{json}{webhook};
my $l1 = $ng->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks};
my $l2 = $ng->get("$C2/admin/webhooks", headers => $admin2)->{json}{webhooks};
ok((grep { $_->{id} eq $hook->{id} } @$l1) && !(grep { $_->{id} eq $hook2->{id} } @$l1),
   'GET /admin/webhooks lists the site\'s webhooks only');
is_deeply([map { $_->{id} } @$l2], [$hook2->{id}], "... and the other site's lists only its own");
is($ng->delete("$C2/admin/webhooks/$hook->{id}", headers => $admin2)->{status}, 404,
   "DELETE of another site's webhook: 404");
is($ng->delete("$C/admin/webhooks/not-a-uuid", headers => $admin)->{status}, 404, 'DELETE of a bad id: 404');

my $many = $ng->post("$C/admin/webhooks", headers => $admin,
                     json => { url => $rx->{url} . '4', events => [('chat.closed') x 33], secret => $secret });
is($many->{status}, 422, 'an events list of more than 32 entries (even of one type): 422');
like($many->{json}{error}{message} // '', qr/^events/, '... naming events');

# at most 20 webhooks per site (every webhook adds a row to each write of its site)
my @cap;
for my $n (2 .. 20) {
    my $c = $ng->post("$C2/admin/webhooks", headers => $admin2,
                      json => { url => "http://127.0.0.1:9/cap-$n?run=$run", events => ['chat.closed'],
                                secret => "cap-$secret" });
    push @cap, $c->{json}{webhook}{id} if $c->{status} == 201;
}
is(scalar @cap, 19, 'a site may have 20 webhooks');
my $over = $ng->post("$C2/admin/webhooks", headers => $admin2,
                     json => { url => "http://127.0.0.1:9/cap-21?run=$run", events => ['chat.closed'],
                               secret => "cap-$secret" });
is($over->{status}, 409, '... a 21st is 409');
is($over->{json}{error}{code}, 'invalid_state', '... invalid_state');
like($over->{json}{error}{message}, qr/at most 20 webhooks/, '... saying why');
is($ng->post("$C/admin/webhooks", headers => $admin,
             json => { url => $rx->{url} . '5', events => ['chat.closed'], secret => $secret })->{status},
   201, "... while another site's admin still creates one (the cap is per site)");
my ($five) = grep { $_->{url} eq $rx->{url} . '5' } @{ $ng->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks} };
$ng->delete("$C/admin/webhooks/$five->{id}", headers => $admin);
is($ng->delete("$C2/admin/webhooks/$_", headers => $admin2)->{status}, 204, '... (deleted again)') for @cap;

# --- delivery, signature, filter, sites ----------------------------------------------------
sub customer {
    my ($base) = @_;
    my $s = $ng->post(($base // $C) . '/session', json => {});
    die "session: $s->{status}" unless $s->{status} == 200;
    return { auth => bearer($s->{json}{token}), id => $s->{json}{conversation}{id} };
}
sub say_ {
    my ($c, $text, $base) = @_;
    my $p = $ng->post(($base // $C) . '/messages', headers => $c->{auth}, json => { text => $text });
    die "post: $p->{status} $p->{body}" unless $p->{status} == 201;
    return $p->{json};
}
my $c1 = customer();
say_($c1, "where is my order $run");
my $c2 = customer($C2);
say_($c2, "hello from the other shop $run", $C2);

ok(ChatTest::wait_until(sub { @{ events_of($rx, $c1->{id}, 'message.created') } >= 3 }, 30),
   'the greeting, the customer message and the bot reply reach the webhook')
    or diag explain received($rx);
my $got = events_of($rx, $c1->{id});
my @created = grep { $_->{event}{type} eq 'message.created' } @$got;
is_deeply([map { $_->{event}{data}{seq} } @created[0 .. 2]], [1, 2, 3], '... in seq order');
my $one = $created[1];
is($one->{line}, "POST /hook/main?run=$run HTTP/1.1", '... POSTed to the url\'s path');
like($one->{headers}{'content-type'}, qr{^application/json}, '... as application/json');
is($one->{headers}{'x-chat-signature'}, 'sha256=' . hmac_sha256_hex($one->{body}, $secret),
   '... X-Chat-Signature is sha256=<hex HMAC-SHA256 of the body with the secret>');
is_deeply([sort keys %{ $one->{event} }], [qw(created_at data id type)], '... the body is {id, type, created_at, data}');
like($one->{event}{id}, qr/^[0-9a-f-]{36}$/, '... id is a UUID');
like($one->{event}{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '... created_at RFC 3339');
is($one->{event}{data}{content}, "where is my order $run", '... data is the Message');
my %ids;
$ids{ $_->{event}{id} }++ for @$got;
ok(!(grep { $_ > 1 } values %ids), '... each event once (distinct ids)');
ok(!(grep { $_->{event}{type} !~ /^(message\.created|chat\.closed)$/ } @{ received($rx) }),
   'only the subscribed types arrive (no conversation.updated)');
ok(!@{ events_of($rx, $c2->{id}) }, "the other site's events never reach this site's webhook");
ok(ChatTest::wait_until(sub { @{ events_of($rx2, $c2->{id}, 'message.created') } >= 2 }, 30),
   "the other site's webhook gets its own conversation's messages");
ok(!@{ events_of($rx2, $c1->{id}) }, '... and none of this site\'s');
my $o2 = events_of($rx2, $c2->{id})->[0];
is($o2->{headers}{'x-chat-signature'}, 'sha256=' . hmac_sha256_hex($o2->{body}, "other-$secret"),
   '... signed with its own secret');

ok(ChatTest::wait_until(sub {
    my ($w) = grep { $_->{id} eq $hook->{id} } @{ $ng->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks} };
    $w && $w->{last_delivered_at} && $w->{backlog} == 0 }, 30), 'the webhook reads back last_delivered_at and an empty backlog');

# --- a receiver that fails, then recovers ----------------------------------------------------
my $flaky = receiver('flaky', 'fail 3');
$r = $ng->post("$C/admin/webhooks", headers => $admin,
               json => { url => $flaky->{url}, events => ['message.created'], secret => $secret });
is($r->{status}, 201, 'a webhook whose receiver fails three times first');
my $flaky_id = $r->{json}{webhook}{id};
my $c3 = customer();
say_($c3, "first $run");
say_($c3, "second $run");
ok(ChatTest::wait_until(sub { @{ events_of($flaky, $c3->{id}) } >= 5 }, 60),
   'after the 500s every event arrives') or diag explain received($flaky);
my @fl = @{ events_of($flaky, $c3->{id}) };
is_deeply([map { $_->{event}{data}{seq} } @fl], [1 .. 5], '... in order, each once delivered');
my @fails = grep { $_->{status} == 500 } @{ received($flaky) };
is(scalar @fails, 3, '... after three 500s');
ok(!(grep { $_->{event} && $_->{event}{data}{conversation_id} eq $c3->{id} && $_->{event}{data}{seq} > 1 } @fails),
   '... which were all the first event again (the next waits for it)');
is($fails[0]{event}{id}, $fl[0]{event}{id}, '... redelivered with the same id');
my ($fw) = grep { $_->{id} eq $flaky_id } @{ $ng->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks} };
like($fw->{last_error} // '', qr/HTTP 500/, '... last_error says what the receiver answered');
ok(defined $fw->{last_error_at} && !$fw->{failing},
   '... with its time (last_error_at), and failing is false: a delivery succeeded after it') or diag explain $fw;

# --- a receiver that never answers ----------------------------------------------------------
my $hang = receiver('hang', 'hang');
my $quick = receiver('quick', 'ok');
for my $rcv ($hang, $quick) {
    $r = $ng->post("$C/admin/webhooks", headers => $admin,
                   json => { url => $rcv->{url}, events => ['message.created'], secret => $secret });
    is($r->{status}, 201, "webhook for the $rcv->{name} receiver");
    $rcv->{id} = $r->{json}{webhook}{id};
}
my $c4 = customer();
say_($c4, "anyone there $run");
my ($hb) = grep { $_->{id} eq $hang->{id} } @{ $ng->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks} };
is($hb->{backlog}, 3, 'backlog counts the events written for the webhook at once (greeting, message, reply), '
                      . 'before and after the sender made their deliveries');
ok(ChatTest::wait_until(sub { @{ received($hang) } >= 1 }, 30), 'the silent receiver got its request (and holds it)');
ok(ChatTest::wait_until(sub { @{ events_of($quick, $c4->{id}) } >= 3 }, 30),
   'another webhook gets every event meanwhile');
my ($hw) = grep { $_->{id} eq $hang->{id} } @{ $ng->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks} };
ok(!defined $hw->{last_error}, '... before the silent one\'s first delivery has even ended (no error recorded yet)')
    or diag explain $hw;
is(scalar(grep { $_->{event}{data}{seq} == 1 } grep { $_->{event} } @{ received($hang) }), scalar @{ received($hang) },
   '... and nothing after the first event of that conversation was sent to the silent one');
ok(ChatTest::wait_until(sub {
    my ($w) = grep { $_->{id} eq $hang->{id} } @{ $ng->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks} };
    ($w->{last_error} // '') =~ /timed out/ }, 40), 'the silent receiver times out: last_error "timed out"');
($hb) = grep { $_->{id} eq $hang->{id} } @{ $ng->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks} };
ok($hb->{failing} && defined $hb->{last_error_at}, '... failing: true, with last_error_at') or diag explain $hb;
is($hb->{backlog}, 3, '... still 3 while the first is retried');
my $st = $ng->status;
ok($st->{webhooks} && $st->{webhooks}{backlog} >= 3, '/chat/status counts the backlog') or diag explain $st->{webhooks};
ok($st->{webhooks}{failing} >= 1, '... and the failing webhooks');
is($ng->delete("$C/admin/webhooks/$hang->{id}", headers => $admin)->{status}, 204, 'DELETE /admin/webhooks/{id}: 204');
is(ChatTest::sql("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '$hang->{id}'"), 0,
   '... its pending deliveries go with it');

# --- every other event type: assigned, offline reply, closed, rated, notes, presence ----------
my $rxall = receiver('all', 'ok');
$r = $ng->post("$C/admin/webhooks", headers => $admin,
               json => { url => $rxall->{url}, secret => $secret,
                         events => ['conversation.updated', 'agent.assigned', 'chat.closed', 'note.created',
                                    'conversation.offline_reply', 'conversation.rated', 'agent.presence.changed'] });
is($r->{status}, 201, 'a webhook for every other type');
my $dept = ChatTest::sql("INSERT INTO departments (site, name) VALUES ('default', 'T48 $run') RETURNING id");
my $c5 = customer();
ChatTest::sql("UPDATE conversations SET status = 'closed', closed_at = now() WHERE status = 'agent' AND id <> '$c5->{id}'");
$r = $ng->post("$C/escalate", headers => $c5->{auth}, json => { department_id => $dept });
is($r->{status}, 200, 'escalated into a department nobody serves');
ok($r->{json}{conversation}{offline}, '... offline');
$r = $ng->post("$C/agent/presence", headers => $admin, json => { presence => 'online' });
is($r->{status}, 200, 'the admin comes online');
$r = $ng->post("$C/agent/conversations/$c5->{id}/claim", headers => $admin);
is($r->{status}, 200, '... claims the offline chat') or diag $r->{body};
$r = $ng->post("$C/agent/conversations/$c5->{id}/messages", headers => $admin,
               json => { text => "we are back $run", client_id => "00000000-0000-4000-8000-" . sprintf('%012d', $$) });
is($r->{status}, 201, '... answers it');
$r = $ng->post("$C/agent/conversations/$c5->{id}/notes", headers => $admin, json => { text => "note $run" });
is($r->{status}, 201, '... writes a note');
$r = $ng->post("$C/agent/conversations/$c5->{id}/close", headers => $admin);
is($r->{status}, 200, '... closes it');
$r = $ng->post("$C/rating", headers => $c5->{auth}, json => { score => 5, comment => "great $run" });
is($r->{status}, 200, 'the customer rates it');
$r = $ng->post("$C/agent/presence", headers => $admin, json => { presence => 'offline' });

my %want = map { $_ => 1 } qw(conversation.updated agent.assigned chat.closed note.created
                              conversation.offline_reply conversation.rated);
ok(ChatTest::wait_until(sub {
    my %seen = map { $_->{event}{type} => 1 } @{ events_of($rxall, $c5->{id}) };
    !(grep { !$seen{$_} } keys %want) }, 30), 'every type arrives: ' . join(', ', sort keys %want))
    or diag explain [map { $_->{event}{type} } @{ received($rxall) }];
my @all = @{ events_of($rxall, $c5->{id}) };
my ($reply) = grep { $_->{event}{type} eq 'conversation.offline_reply' } @all;
is($reply->{event}{data}{message}{content}, "we are back $run", 'conversation.offline_reply carries the agent\'s message');
is($reply->{event}{data}{conversation}{id}, $c5->{id}, '... and the conversation');
my ($rated) = grep { $_->{event}{type} eq 'conversation.rated' } @all;
is($rated->{event}{data}{rating}{score}, 5, 'conversation.rated carries the rating');
my ($assigned) = grep { $_->{event}{type} eq 'agent.assigned' } @all;
is($assigned->{event}{data}{agent}{id}, $admin_login->{agent}{id}, 'agent.assigned names the agent');
my ($note) = grep { $_->{event}{type} eq 'note.created' } @all;
is($note->{event}{data}{text}, "note $run", 'note.created carries the note');
my @types = map { $_->{event}{type} } @all;
my ($ia) = grep { $types[$_] eq 'agent.assigned' } 0 .. $#types;
my ($ic) = grep { $types[$_] eq 'chat.closed' } 0 .. $#types;
my ($ir) = grep { $types[$_] eq 'conversation.rated' } 0 .. $#types;
ok($ia < $ic && $ic < $ir, '... in the order they happened (assigned, closed, rated)');
ok(ChatTest::wait_until(sub {
    grep { $_->{event}{type} eq 'agent.presence.changed' && $_->{event}{data}{id} eq $admin_login->{agent}{id} }
        @{ received($rxall) } }, 30), 'agent.presence.changed arrives');
ok(!(grep { $_->{event}{type} =~ /^(typing|read|message\.created)$/ } @{ received($rxall) }),
   'nothing it did not subscribe to (and never typing or read)');

# --- conversation.updated delivered late still describes its own change ---------------------
# The receiver fails its first request: the conversation's first conversation.updated waits for
# its retry while the later changes happen, so every one of them is sent after the last change.
my $late = receiver('late', 'fail 1');
$r = $ng->post("$C/admin/webhooks", headers => $admin,
               json => { url => $late->{url}, events => ['conversation.updated'], secret => $secret });
is($r->{status}, 201, 'a webhook for conversation.updated whose receiver fails once');
my $c7 = customer();
say_($c7, "first change $run");
say_($c7, "second change $run");
$r = $ng->post("$C/escalate", headers => $c7->{auth}, json => {});
is($r->{status}, 200, '... the conversation is escalated') or diag $r->{body};
$r = $ng->post("$C/agent/conversations/$c7->{id}/close", headers => $admin);
is($r->{status}, 200, '... and closed');
my $final = ChatTest::sql("SELECT version FROM conversations WHERE id = '$c7->{id}'");
ok(ChatTest::wait_until(sub {
    grep { $_->{event}{data}{version} == $final } @{ events_of($late, $c7->{id}, 'conversation.updated') } }, 30),
   '... every conversation.updated arrives') or diag explain received($late);
my @upd = map { $_->{event}{data} } @{ events_of($late, $c7->{id}, 'conversation.updated') };
ok(@upd >= 4, '... one per change (' . scalar(@upd) . ')');
ok(!(grep { $upd[$_]{version} <= $upd[$_ - 1]{version} } 1 .. $#upd),
   '... each with the version of its own change, in order (not the state when it was sent)')
    or diag explain [map { $_->{version} } @upd];
ok(!(grep { $upd[$_]{last_seq} < $upd[$_ - 1]{last_seq} } 1 .. $#upd), '... last_seq never going back');
is($upd[0]{status}, 'automated', '... the first still automated although sent after the close');
is($upd[-1]{status}, 'closed', '... the last closed');
my @late_fails = grep { $_->{status} == 500 } @{ received($late) };
is(scalar @late_fails, 1, '... after one failure');

# --- cleanup: the triggers go with the last webhook --------------------------------------------
for my $id (map { $_->{id} } grep { $_->{url} =~ /\?run=\Q$run\E$/ }
            @{ $ng->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks} }) {
    $ng->delete("$C/admin/webhooks/$id", headers => $admin);
}
$ng->delete("$C2/admin/webhooks/$hook2->{id}", headers => $admin2);
if ($others == 0) {
    is(ChatTest::sql($TRIGGERS), 0,
       'with the last webhook deleted the outbox triggers are gone');
    my $c6 = customer();
    say_($c6, "quiet $run");
    is(ChatTest::sql("SELECT count(*) FROM outbox WHERE conversation_id = '$c6->{id}'"), 0, '... and nothing is written');
}
ChatTest::sql("DELETE FROM departments WHERE id = '$dept'");

WebhookReceiver::stop_all();
$ng->stop;
done_testing();
