# The shared-memory cache in a zone too small for its conversations (DESIGN.md "Shared memory is
# a cache, not a store"): stores evict the least recently used conversations, a conversation the
# zone cannot hold is read from Postgres and never served stale, /chat/status counts both, and
# error.log says why a store failed (a full zone, free pages too fragmented, or an entry above a
# quarter of the zone) with the zone's free pages and its longest free run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;

# 512k: after the rate tables, the event ring and the FAQ about 60 pages of 4 KB are left, and an
# entry may take at most a quarter of the zone (~125 KB)
my $ng = ChatTest::start_nginx(workers => 2, zone_size => '512k',
                               http => "chat_rate 1000r/s burst=1000;\n    chat_message_max 20000;");

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', ++$n + $$ * 1000) }

sub post_text {
    my ($c, $text) = @_;
    my $r = $ng->post('/chat/api/v1/messages', headers => $c->{auth},
                      json => { text => $text, client_id => uuid() });
    is($r->{status}, 201, 'the post answers 201') or diag($r->{body});
    return $r->{json};
}

# the customer texts of a conversation, read through GET /conversation (cache or Postgres)
sub texts {
    my ($c) = @_;
    my $r = $ng->get('/chat/api/v1/conversation?after=0', headers => $c->{auth});
    return undef unless $r->{status} == 200;
    return [ map { $_->{content} } grep { $_->{sender_type} eq 'customer' } @{ $r->{json}{messages} } ];
}

sub error_log {
    open my $fh, '<', $ng->dir . '/error.log' or return '';
    local $/;
    return <$fh>;
}

subtest 'conversations that outgrow the zone evict the least recently used ones, and every one still reads back whole' => sub {
    my $before = $ng->status->{cache}{evictions};
    my @c = map { $ng->customer } 1 .. 20;
    my %sent;
    for my $i (0 .. $#c) {
        for my $k (1 .. 2) {   # two posts of 8 000 characters: about five pages each conversation
            my $text = sprintf('conversation %d, message %d: ', $i, $k) . ('x' x 8000);
            post_text($c[$i], $text);
            push @{ $sent{$i} }, $text;
        }
    }
    my $after = wait_until(sub { my $s = $ng->status; $s->{cache}{evictions} > $before && $s }, 5);
    ok($after, '/chat/status counts evictions: 20 conversations of ~20 KB do not fit in ~240 KB');
    for my $i (0 .. $#c) {
        is_deeply(texts($c[$i]), $sent{$i}, "conversation $i reads back with both its messages");
    }
};

subtest 'a conversation above a quarter of the zone is not cached: counted, logged with why, read from Postgres, never stale' => sub {
    my $c = $ng->customer;
    my $failures = $ng->status->{cache}{alloc_failures};
    my @sent;
    for my $k (1 .. 7) {   # 7 x 20 000 characters: ~140 KB, above the ~125 KB an entry may take
        my $text = "message $k: " . ('y' x 19980);
        post_text($c, $text);
        push @sent, $text;
        # every post reads back up to date, cached or not: a failed store drops the older entry
        is_deeply(texts($c), \@sent, "after post $k the conversation reads back with all $k messages");
        # the sixth (~125 KB, half the free pages) fits only where its older version was
        is($ng->status->{cache}{alloc_failures}, $failures,
           "post $k is cached: a growing entry may take its older version's pages") if $k == 6;
    }
    ok(wait_until(sub { $ng->status->{cache}{alloc_failures} > $failures }, 5),
       '/chat/status counts the failed store');
    my $line = wait_until(sub { (error_log() =~ /^(.*chat cache: could not store .*larger than a quarter.*)$/m)[0] }, 5);
    ok($line, 'error.log has the warning') or return;
    like($line, qr/\[warn\]/, 'as a warning');
    like($line, qr/could not store a conversation of \d+ bytes \(\d+ pages\) in zone "chat": larger than a quarter of the zone; \d+ of \d+ pages free, the longest free run \d+ pages, \d+ entries evicted for it; it will be read from Postgres/,
         'saying its size in bytes and pages, why, the free pages, the longest free run and the evictions it cost');
};

$ng->stop;
done_testing();
