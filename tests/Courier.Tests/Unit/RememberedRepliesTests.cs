using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Serving.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Courier.Tests.Unit;

/// <summary>
/// The at-most-once ledger's answers are bounded in bytes as well as in count and age: a client asking a service with
/// large replies cannot make a server or broker keep 100,000 of them. What no longer fits loses its body, never its
/// entry, so a repeat is told 520 and never runs twice.
/// </summary>
public sealed class RememberedRepliesTests
{
    private static readonly ClientIdentity Client = ClientIdentity.NewRandom();

    private static RememberedReply Reply(int bytes) => new(CourierStatus.Ok, [new byte[bytes]], []);

    [Fact]
    public void A_body_of_many_empty_frames_counts_for_the_frames_it_holds()
    {
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), capacity: 1000, TimeProvider.System, maxBytes: 1 << 20);
        var frames = Enumerable.Repeat(ReadOnlyMemory<byte>.Empty, 900).ToArray();

        ledger.Remember(new RequestKey(Client, 1), new RememberedReply(CourierStatus.Ok, frames, []));

        Assert.Equal(899 * Courier.Internal.FrameCost.Managed, ledger.RememberedBytes);
    }

    [Fact]
    public void Past_the_byte_bound_the_oldest_bodies_go_and_their_repeats_are_answered_520_not_run_again()
    {
        var running = new object();
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), capacity: 1000, TimeProvider.System, maxBytes: 100);
        for (ulong id = 1; id <= 3; id++)
        {
            ledger.Start(new RequestKey(Client, id), running);
            Assert.True(ledger.Forget(new RequestKey(Client, id), running));
            ledger.Remember(new RequestKey(Client, id), Reply(40));
        }

        Assert.Equal(80, ledger.RememberedBytes);
        Assert.True(ledger.TryGetAnswer(new RequestKey(Client, 1), out var first));
        Assert.Equal(CourierStatus.OutcomeUnknown, first.Status);
        Assert.True(ledger.TryGetAnswer(new RequestKey(Client, 3), out var last));
        Assert.Equal(CourierStatus.Ok, last.Status);
        Assert.Equal(40, last.Body[0].Length);
        Assert.Equal(0, ledger.RunningCount);
    }

    [Fact]
    public void A_reply_larger_than_the_whole_bound_is_remembered_as_answered_without_its_body()
    {
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), capacity: 1000, TimeProvider.System, maxBytes: 100);
        ledger.Remember(new RequestKey(Client, 1), Reply(40));
        ledger.Remember(new RequestKey(Client, 2), Reply(1000));

        Assert.Equal(40, ledger.RememberedBytes);
        Assert.True(ledger.TryGetAnswer(new RequestKey(Client, 2), out var huge));
        Assert.Equal(CourierStatus.OutcomeUnknown, huge.Status);
        Assert.Contains("1000 bytes", System.Text.Encoding.UTF8.GetString(huge.Body[0].Span), StringComparison.Ordinal);
    }

    [Fact]
    public void Answers_that_expire_or_are_pushed_out_by_count_give_their_bytes_back()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), capacity: 2, clock, maxBytes: 1000);
        for (ulong id = 1; id <= 3; id++)
        {
            ledger.Remember(new RequestKey(Client, id), Reply(100));
        }

        Assert.Equal(200, ledger.RememberedBytes); // the first left by count
        Assert.False(ledger.TryGetAnswer(new RequestKey(Client, 1), out _));

        clock.Advance(TimeSpan.FromSeconds(61));
        ledger.Expire(clock.GetTimestamp());

        Assert.Equal(0, ledger.RememberedBytes);
        Assert.Equal(0, ledger.AnsweredCount);
    }

    [Fact]
    public void A_request_answered_again_counts_the_bytes_of_its_newest_reply_only()
    {
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), capacity: 1000, TimeProvider.System, maxBytes: 1000);
        var key = new RequestKey(Client, 1);
        ledger.Remember(key, Reply(100));
        ledger.Remember(key, Reply(30));

        Assert.Equal(30, ledger.RememberedBytes);
        Assert.Equal(1, ledger.AnsweredCount);
        Assert.True(ledger.TryGetAnswer(key, out var answer));
        Assert.Equal(30, answer.Body[0].Length);
    }

    [Fact]
    public void A_reply_replaced_by_a_newer_one_gives_up_its_bytes_once_only()
    {
        // The first reply's place in the queue of bodies stays, holding nothing: when the bound pushes bodies out, it
        // must not count its 60 bytes a second time.
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), capacity: 1000, TimeProvider.System, maxBytes: 100);
        var key = new RequestKey(Client, 1);
        var other = new RequestKey(Client, 2);
        ledger.Remember(key, Reply(60));
        ledger.Remember(key, Reply(30));
        ledger.Remember(other, Reply(80));

        Assert.Equal(80, ledger.RememberedBytes);
        Assert.True(ledger.TryGetAnswer(key, out var replaced));
        Assert.Equal(CourierStatus.OutcomeUnknown, replaced.Status);
        Assert.True(ledger.TryGetAnswer(other, out var kept));
        Assert.Equal(CourierStatus.Ok, kept.Status);
    }

    [Fact]
    public void A_reply_remembered_again_lives_its_own_window_not_the_one_of_the_reply_it_replaced()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), capacity: 1000, clock, maxBytes: 1000);
        var key = new RequestKey(Client, 1);
        ledger.Remember(key, Reply(10));
        clock.Advance(TimeSpan.FromSeconds(40));
        ledger.Remember(key, Reply(20));

        clock.Advance(TimeSpan.FromSeconds(30)); // the first reply's window is over, the second's is not
        ledger.Expire(clock.GetTimestamp());

        Assert.True(ledger.TryGetAnswer(key, out var answer));
        Assert.Equal(20, answer.Body[0].Length);
        Assert.Equal(20, ledger.RememberedBytes);

        clock.Advance(TimeSpan.FromSeconds(31));
        ledger.Expire(clock.GetTimestamp());

        Assert.False(ledger.TryGetAnswer(key, out _));
        Assert.Equal(0, ledger.RememberedBytes);
    }

    [Fact]
    public void A_reply_remembered_again_is_not_pushed_out_by_count_in_the_place_of_the_reply_it_replaced()
    {
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), capacity: 2, TimeProvider.System, maxBytes: 1000);
        var key = new RequestKey(Client, 1);
        ledger.Remember(key, Reply(10));
        ledger.Remember(key, Reply(20));
        ledger.Remember(new RequestKey(Client, 2), Reply(30)); // the count pushes out the first reply's place only

        Assert.True(ledger.TryGetAnswer(key, out var answer));
        Assert.Equal(20, answer.Body[0].Length);
        Assert.Equal(2, ledger.AnsweredCount);
        Assert.Equal(50, ledger.RememberedBytes);
    }

    [Fact]
    public void Forgetting_leaves_alone_a_request_in_progress_that_is_another_attempts()
    {
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), capacity: 1000, TimeProvider.System);
        var key = new RequestKey(Client, 1);
        var first = new object();
        var second = new object();
        ledger.Start(key, second);

        Assert.False(ledger.Forget(key, first));
        Assert.True(ledger.TryGetRunning(key, out var held));
        Assert.Same(second, held);
        Assert.True(ledger.Forget(key, second));
        Assert.Equal(0, ledger.RunningCount);
        Assert.False(ledger.Forget(key, second));
    }
}
