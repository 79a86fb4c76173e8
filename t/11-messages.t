# Customer messages (API.md "Customer endpoints", POST /messages and GET
# /conversation): the FAQ bot answers instantly, validation answers exactly
# as the contract says, client_id makes retries harmless, and seq stays
# gapless under concurrent posts through several workers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use POSIX ();

my $ng = ChatTest::start_nginx(workers => 3, http => 'chat_rate 1000r/s burst=1000;');

sub session {
    my $r = $ng->post('/chat/api/v1/session', json => {});
    return { Authorization => "Bearer $r->{json}{token}" };
}

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', ++$n + $$ * 1000) }

my $auth = session();

my $r = $ng->post('/chat/api/v1/messages', headers => $auth,
                  json => { text => 'How long does shipping take?', client_id => uuid() });
is($r->{status}, 201, 'posting a message answers 201');
my @m = @{ $r->{json}{messages} };
is(scalar @m, 2, 'the customer message and the bot reply come back');
is($m[0]{sender_type}, 'customer', 'first the customer message');
is($m[0]{seq}, 2, 'after the greeting: seq 2');
is($m[0]{kind}, 'text', 'of kind text');
is($m[1]{sender_type}, 'bot', 'then the bot');
is($m[1]{seq}, 3, 'with seq 3');
is($m[1]{metadata}{faq}, 'shipping-time', 'the bot found the shipping-time answer');
is($r->{json}{conversation}{last_seq}, 3, 'the conversation knows its last seq');

my $typo = $ng->post('/chat/api/v1/messages', headers => $auth,
                     json => { text => 'hi, can i get my money back please?', client_id => uuid() });
is($typo->{json}{messages}[1]{metadata}{faq}, 'refunds', 'a synonym with extra words finds refunds');

my $fb = $ng->post('/chat/api/v1/messages', headers => $auth,
                   json => { text => 'what is the meaning of life', client_id => uuid() });
is($fb->{status}, 201, 'an unknown question answers 201');
ok($fb->{json}{messages}[1]{metadata}{fallback}, 'with the fallback reply');
like($fb->{json}{messages}[1]{content}, qr/human/i, 'which offers a human');

my $q = $ng->post('/chat/api/v1/messages', headers => $auth,
                  json => { faq => 'returns', client_id => uuid() });
is($q->{status}, 201, 'a FAQ chip answers 201');
is($q->{json}{messages}[0]{kind}, 'quick_reply', 'it posts a quick_reply');
my $faq = $ng->get('/chat/api/v1/faq')->{json}{faq};
my ($ret) = grep { $_->{slug} eq 'returns' } @$faq;
is($q->{json}{messages}[0]{content}, $ret->{question}, 'with the question as its text');
is($q->{json}{messages}[1]{content}, $ret->{answer}, 'and the bot answers exactly that entry');

# idempotency
my $cid = uuid();
my $first = $ng->post('/chat/api/v1/messages', headers => $auth, json => { text => 'do you ship to canada', client_id => $cid });
my $again = $ng->post('/chat/api/v1/messages', headers => $auth, json => { text => 'do you ship to canada', client_id => $cid });
is($again->{status}, 201, 'a retried client_id answers 201');
is_deeply([ map { $_->{id} } @{ $again->{json}{messages} } ],
          [ map { $_->{id} } @{ $first->{json}{messages} } ], 'with the original messages');
my $hist = $ng->get('/chat/api/v1/conversation?after=0&limit=200', headers => $auth)->{json};
is(scalar(grep { ($_->{content} // '') eq 'do you ship to canada' } @{ $hist->{messages} }), 1,
   'and nothing is written twice');

# polling
my $after = $ng->get('/chat/api/v1/conversation?after=3&limit=2', headers => $auth);
is($after->{status}, 200, 'GET /conversation answers 200');
is_deeply([ map { $_->{seq} } @{ $after->{json}{messages} } ], [4, 5], 'after=3&limit=2 gives seq 4 and 5');
is_deeply($after->{json}{messages}, [ @{ $hist->{messages} }[3, 4] ],
          'the very messages of the whole history (a run from the middle of the cached list)');
is_deeply($ng->get('/chat/api/v1/conversation?after=0&limit=200', headers => $auth)->{json}, $hist,
          'reading the whole history again answers the same');
my @all = map { $_->{seq} } @{ $hist->{messages} };
is_deeply(\@all, [ 1 .. $hist->{conversation}{last_seq} ], 'the history has no gaps');
is($ng->get('/chat/api/v1/conversation?limit=500', headers => $auth)->{status}, 422, 'limit over 200 is 422');
is($ng->get('/chat/api/v1/conversation?after=x', headers => $auth)->{status}, 422, 'a bad after is 422');

# validation, exactly as API.md
my %cases = (
    'empty text'      => [ { text => '', client_id => uuid() }, 422, 'validation' ],
    'blank text'      => [ { text => "  \n ", client_id => uuid() }, 422, 'validation' ],
    'text too long'   => [ { text => ('x' x 4001), client_id => uuid() }, 422, 'validation' ],
    'text not string' => [ { text => 42, client_id => uuid() }, 422, 'validation' ],
    'no text'         => [ { client_id => uuid() }, 400, 'bad_request' ],
    'bad client_id'   => [ { text => 'hi', client_id => 'nope' }, 422, 'validation' ],
    'unknown faq'     => [ { faq => 'no-such-entry', client_id => uuid() }, 422, 'validation' ],
);
for my $name (sort keys %cases) {
    my ($body, $status, $code) = @{ $cases{$name} };
    my $res = $ng->post('/chat/api/v1/messages', headers => $auth, json => $body);
    is($res->{status}, $status, "$name: $status");
    is($res->{json}{error}{code}, $code, "$name: code $code");
}
my $ok4000 = $ng->post('/chat/api/v1/messages', headers => $auth,
                       json => { text => ("\x{e9}" x 4000), client_id => uuid() });
is($ok4000->{status}, 201, '4000 characters (8000 bytes of UTF-8) are accepted');

my $utf = $ng->post('/chat/api/v1/messages', headers => { %$auth, 'Content-Type' => 'application/json' },
                    body => qq({"text":"caf\xc3\x28","client_id":"@{[uuid()]}"}));
is($utf->{status}, 422, 'invalid UTF-8 is 422');
is($utf->{json}{error}{code}, 'validation', 'with code validation');
my $broken = $ng->post('/chat/api/v1/messages', headers => { %$auth, 'Content-Type' => 'application/json' },
                       body => '{"text": "hi"');
is($broken->{status}, 400, 'broken JSON is 400');
is($broken->{json}{error}{code}, 'invalid_json', 'with code invalid_json');
my $arr = $ng->post('/chat/api/v1/messages', headers => $auth, json => [1]);
is($arr->{status}, 400, 'a JSON array body is 400 bad_request');
my $big = $ng->post('/chat/api/v1/messages', headers => { %$auth, 'Content-Type' => 'application/json' },
                    body => '{"text":"' . ('a' x (2 * 1024 * 1024)) . '"}');
is($big->{status}, 413, 'a body over client_max_body_size is 413');
is($big->{json}{error}{code}, 'too_large', 'with code too_large');

# CSRF: cookie-authenticated writes need X-Chat-Csrf or a same-origin Origin
my ($tok) = $auth->{Authorization} =~ /Bearer (.*)/;
my $ck = { Cookie => "chat_session=$tok" };
my $nocsrf = $ng->post('/chat/api/v1/messages', headers => $ck, json => { text => 'hi', client_id => uuid() });
is($nocsrf->{status}, 403, 'a cookie write without the CSRF header is 403');
is($nocsrf->{json}{error}{code}, 'forbidden', 'with code forbidden');
my $csrf = $ng->post('/chat/api/v1/messages', headers => { %$ck, 'X-Chat-Csrf' => '1' },
                     json => { text => 'hi', client_id => uuid() });
is($csrf->{status}, 201, 'with X-Chat-Csrf: 1 it is accepted');
my $origin = $ng->post('/chat/api/v1/messages',
                       headers => { %$ck, Origin => 'http://127.0.0.1:' . $ng->port },
                       json => { text => 'hi', client_id => uuid() });
is($origin->{status}, 201, 'a same-origin Origin is accepted');
my $evil = $ng->post('/chat/api/v1/messages', headers => { %$ck, Origin => 'http://evil.test' },
                     json => { text => 'hi', client_id => uuid() });
is($evil->{status}, 403, 'a foreign Origin is 403');

# concurrency: 4 processes x 10 posts on one conversation through 3 workers
my $conc = session();
my @pids;
for my $p (1 .. 4) {
    my $pid = fork // die;
    if (!$pid) {
        my $h = HTTP::Tiny->new(timeout => 20);
        for my $i (1 .. 10) {
            my $res = $h->request('POST', $ng->url('/chat/api/v1/messages'), {
                headers => { %$conc, 'Content-Type' => 'application/json' },
                content => sprintf('{"text":"p%d m%d","client_id":"00000000-0000-4000-9000-%012d"}', $p, $i, $p * 1000 + $i) });
            POSIX::_exit(1) unless $res->{status} == 201;
        }
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
my $fails = 0;
for (@pids) { waitpid($_, 0); $fails++ if $? }
is($fails, 0, 'every concurrent post answers 201');
my $c = $ng->get('/chat/api/v1/conversation?after=0&limit=200', headers => $conc)->{json};
my @seqs = map { $_->{seq} } @{ $c->{messages} };
is_deeply(\@seqs, [ 1 .. 81 ], '40 concurrent posts and their replies get seq 1..81 without gaps');
my %texts;
$texts{ $_->{content} }++ for grep { $_->{sender_type} eq 'customer' } @{ $c->{messages} };
is(scalar(keys %texts), 40, 'every message is there once');
ok(!(grep { $_ != 1 } values %texts), 'and none twice');

# message ids (API.md: UUIDs): valid, unique, and time-ordered (UUID version 7, RFC 9562:
# messages_pkey grows at its right edge, issue 11): a later message's id sorts after an
# earlier one's, its first 48 bits the millisecond it was written
my $uuid_re = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
my @msgs = @{ $c->{messages} };
is(scalar(grep { ($_->{id} // '') =~ $uuid_re } @msgs), scalar @msgs, 'every message id is a UUID');
my %ids = map { $_->{id} => 1 } @msgs;
is(scalar(keys %ids), scalar @msgs, 'and no two messages share one');
my @ordered = map { $_->{id} } @{ $hist->{messages} };
my @later = map { $_->{id} } @{ $ng->post('/chat/api/v1/messages', headers => $auth,
                                          json => { text => 'one more', client_id => uuid() })->{json}{messages} };
ok((grep { $_ le $ordered[-1] } @later) == 0, 'a new post\'s ids sort after every earlier message\'s')
    or diag("earlier $ordered[-1], later @later");
is(scalar(grep { substr($_, 14, 1) eq '7' && substr($_, 19, 1) =~ /^[89ab]$/ } @ordered, @later),
   @ordered + @later, 'each a UUID version 7 (variant 10)');
my $ms = hex(substr($later[0], 0, 8)) * 65536 + hex(substr($later[0], 9, 4));
ok(abs($ms - time() * 1000) < 600_000, 'whose time is the time of the post (within 10 minutes)')
    or diag("id time $ms, now " . time() * 1000);

# the ids' generator itself (chat_uuid7_at: at a millisecond given, the post batch's ids at its
# run's clock; chat_uuid7: at the clock's): 20 000 ids, each version 7 with the variant 10, the
# given millisecond in its first 48 bits, none twice, their 12 bits after the version and the
# variant's two bits after it spread over all their values (random(), not a constant)
is(ChatTest::sql(q{
    SELECT count(*) || ' ' || count(DISTINCT id) || ' '
           || count(*) FILTER (WHERE substr(id::text, 15, 1) = '7' AND substr(id::text, 20, 1) IN ('8', '9', 'a', 'b')) || ' '
           || count(*) FILTER (WHERE ('x' || lpad(replace(left(id::text, 13), '-', ''), 16, '0'))::bit(64)::bigint = 1764680000123) || ' '
           || (count(DISTINCT substr(id::text, 16, 3)) > 4000) || ' ' || count(DISTINCT substr(id::text, 20, 1))
      FROM (SELECT chat_uuid7_at(1764680000123) AS id FROM generate_series(1, 20000)) g}),
   '20000 20000 20000 20000 true 4', 'chat_uuid7_at: 20 000 ids, all distinct, version 7, variant 10, at the millisecond given, random bits');
is(ChatTest::sql(q{
    SELECT (SELECT max(chat_uuid7_at(1764680000123)::text COLLATE "C") FROM generate_series(1, 2000))
         < (SELECT min(chat_uuid7_at(1764680000124)::text COLLATE "C") FROM generate_series(1, 2000))}),
   't', "... and a millisecond's ids sort before every id of the next millisecond");
is(ChatTest::sql(q{
    CREATE TEMP TABLE u7 AS SELECT chat_ms(clock_timestamp()) AS ms, NULL::uuid AS id;
    INSERT INTO u7 SELECT NULL, chat_uuid7() FROM generate_series(1, 2000);
    INSERT INTO u7 SELECT chat_ms(clock_timestamp()), NULL;
    SELECT count(DISTINCT id) || ' '
           || bool_and(substr(id::text, 15, 1) = '7' AND substr(id::text, 20, 1) IN ('8', '9', 'a', 'b')) || ' '
           || bool_and(('x' || lpad(replace(left(id::text, 13), '-', ''), 16, '0'))::bit(64)::bigint
                       BETWEEN (SELECT min(ms) FROM u7) AND (SELECT max(ms) FROM u7))
      FROM u7 WHERE id IS NOT NULL}),
   '2000 true true', "chat_uuid7: distinct v7 ids at the clock's millisecond (between one read before and one after)");
# the post's reply refers to the customer's message (in_reply_to: written by the batch as
# jsonb_object over the id's text), and both ids carry the millisecond of their created_at
is(ChatTest::sql(qq{SELECT count(*) FROM messages b JOIN messages m ON m.id::text = b.metadata->>'in_reply_to'
                     WHERE b.id = '$later[1]' AND m.id = '$later[0]'
                       AND m.conversation_id = b.conversation_id AND m.seq = b.seq - 1
                       AND jsonb_typeof(b.metadata->'in_reply_to') = 'string'}),
   1, "the reply's in_reply_to is the customer message's id, as a string");
is(ChatTest::sql(qq{SELECT count(*) FROM messages
                     WHERE id IN ('@{[ join("','", @later) ]}')
                       AND ('x' || lpad(replace(left(id::text, 13), '-', ''), 16, '0'))::bit(64)::bigint
                           = floor(extract(epoch FROM created_at) * 1000)}),
   scalar @later, "a post's message ids carry their created_at's millisecond");

# messages.sender_agent_id names an agent (040_sender_agent_triggers: the foreign key it had, now
# two triggers that cost nothing on the customer's and the bot's messages): an agent's reply
# through the API is stored naming them; a message naming no agent is refused, and so is the
# delete of an agent a message names (23503, as the key refused them); an agent no message
# names can still be deleted.
{
    my $A = '/chat/api/v1/agent';
    my $admin = ChatTest::bearer($ng->agent_login('admin', 'Admin@123')->{token});
    my $ag = $ng->new_agent($admin, 'fk', role => 'supervisor');
    my $c = $ng->customer;
    $ng->escalate($c);
    is($ng->post("$A/conversations/$c->{id}/claim", headers => $ag->{auth})->{status}, 200, 'an agent takes a chat');
    my $reply = $ng->post("$A/conversations/$c->{id}/messages", headers => $ag->{auth},
                          json => { text => 'Hello, I am here.', client_id => uuid() });
    is($reply->{status}, 201, '... replies through the API');
    is(ChatTest::sql(qq{SELECT count(*) FROM messages WHERE conversation_id = '$c->{id}'
                         AND sender_type = 'agent' AND sender_agent_id = '$ag->{id}'}), 1,
       '... and the reply is stored naming the agent');
    # each statement run and rolled back: its SQLSTATE and message, or "ok" when it passed
    my $try = sub {  # (statement, isolation level)
        my ($statement, $isolation) = @_;
        (my $q = $statement) =~ s/'/''/g;
        return ChatTest::sql(qq{BEGIN ISOLATION LEVEL @{[ $isolation // 'READ COMMITTED' ]}; CREATE FUNCTION pg_temp.try(s text) RETURNS text LANGUAGE plpgsql AS \$\$
            BEGIN EXECUTE s; RAISE EXCEPTION 'ok' USING ERRCODE = 'P0001';
            EXCEPTION WHEN OTHERS THEN RETURN CASE SQLSTATE WHEN 'P0001' THEN SQLERRM ELSE SQLSTATE || ' ' || SQLERRM END;
            END \$\$; SELECT pg_temp.try('$q')});
    };
    is($try->(qq{INSERT INTO messages (conversation_id, seq, sender_type, sender_agent_id, content)
                 VALUES ('$c->{id}', 1000, 'agent', gen_random_uuid(), 'from nobody')}),
       '23503 insert or update on table "messages" violates foreign key constraint "messages_sender_agent_id_fkey"',
       'a message naming no agent is refused (23503)');
    is($try->(qq{UPDATE messages SET sender_agent_id = gen_random_uuid()
                  WHERE conversation_id = '$c->{id}' AND sender_type = 'agent'}),
       '23503 insert or update on table "messages" violates foreign key constraint "messages_sender_agent_id_fkey"',
       "... and so is a message's sender changed to no agent");
    is($try->(qq{INSERT INTO messages (conversation_id, seq, sender_type, sender_agent_id, content)
                 VALUES ('$c->{id}', 1000, 'agent', '$ag->{id}', 'from the agent')}), 'ok',
       '... one naming an agent is not');
    my $referenced = '23503 update or delete on table "agents" violates foreign key constraint '
                   . '"messages_sender_agent_id_fkey" on table "messages"';
    # (the chat given back first: conversations' own key to its agent would refuse it too)
    my $unassign = qq{WITH u AS (UPDATE conversations SET assigned_agent_id = NULL WHERE id = '$c->{id}' RETURNING 1)};
    is($try->(qq{$unassign DELETE FROM agents WHERE id = '$ag->{id}'}), $referenced,
       'an agent who sent a message cannot be deleted (23503)');
    is($try->(qq{$unassign UPDATE agents SET id = gen_random_uuid() WHERE id = '$ag->{id}'}), $referenced,
       '... nor given another id');
    is($try->(qq{UPDATE agents SET display_name = 'Renamed' WHERE id = '$ag->{id}'}), 'ok',
       '... but can still be changed otherwise');
    my $idle = $ng->post('/chat/api/v1/admin/agents', headers => $admin,
                         json => { username => "t11.fk.idle.$$", password => 'T11-Pass-Idle-1234', display_name => 'Idle',
                                   role => 'agent', max_active_chats => 5 });
    is($idle->{status}, 201, 'an agent who never wrote a message');
    is($try->(qq{DELETE FROM agents WHERE id = '$idle->{json}{agent}{id}'}), 'ok', '... can be deleted');
    # under a transaction's snapshot the delete could miss a message committed meanwhile: refused
    is($try->(qq{DELETE FROM agents WHERE id = '$idle->{json}{agent}{id}'}, $_),
       "0A000 an agent's delete or change of id needs READ COMMITTED", "... but not under $_")
        for 'REPEATABLE READ', 'SERIALIZABLE';
}

$ng->stop;
done_testing;
