# The limits a client must know come with the session (API.md "Customer endpoints", POST
# /session): "limits": {"message_max"} is the server's chat_message_max, so the widget caps its
# input at exactly what POST /messages accepts; the default, and an operator's own value.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', ++$n + $$ * 1000) }

sub session_of {
    my ($ng) = @_;
    my $r = $ng->post('/chat/api/v1/session', json => {});
    is($r->{status}, 200, 'a new session answers 200');
    return $r->{json};
}

# the default: 4000 characters
my $ng = ChatTest::start_nginx(workers => 2);
my $s = session_of($ng);
is_deeply($s->{limits}, { message_max => 4000 }, 'the session says the default message_max, 4000');

# an operator's chat_message_max: told to the client, and exactly what the server takes
my $small = ChatTest::start_nginx(workers => 2, http => '    chat_message_max 300;');
my $t = session_of($small);
is($t->{limits}{message_max}, 300, 'the session says chat_message_max 300');
my $auth = { Authorization => "Bearer $t->{token}" };
my $at = $small->post('/chat/api/v1/messages', headers => $auth,
                      json => { text => ("\x{e9}" x $t->{limits}{message_max}), client_id => uuid() });
is($at->{status}, 201, 'a message of message_max characters is accepted');
my $over = $small->post('/chat/api/v1/messages', headers => $auth,
                        json => { text => ('x' x ($t->{limits}{message_max} + 1)), client_id => uuid() });
is($over->{status}, 422, 'one character more is 422');
is($over->{json}{error}{code}, 'validation', 'with code validation');

# a resumed session says it too
my $again = $small->post('/chat/api/v1/session', headers => $auth, json => {});
is($again->{json}{conversation}{id}, $t->{conversation}{id}, 'the token resumes the same conversation');
is($again->{json}{limits}{message_max}, 300, 'and the limits come with it');

$_->stop for $ng, $small;
done_testing;
