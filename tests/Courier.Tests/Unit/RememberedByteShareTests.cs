using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Serving.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Courier.Tests.Unit;

/// <summary>
/// The at-most-once ledger's bytes are shared as its count is: past the bound, the client holding the most bytes drops
/// its own oldest bodies, not another client's. Without that, one client asking for large replies turned every other
/// client's remembered replies into 520s (answered, outcome not kept) within the window.
/// </summary>
public sealed class RememberedByteShareTests
{
    private const long MaxBytes = 10_000;
    private const int Size = 100;

    private static DeliveryLedger<object> Ledger(TimeProvider? clock = null) =>
        new(TimeSpan.FromSeconds(60), capacity: 100_000, clock ?? new FakeTimeProvider(), MaxBytes);

    private static RememberedReply Reply(int size = Size) => new(CourierStatus.Ok, [new byte[size]], []);

    private static void AssertKept(DeliveryLedger<object> ledger, RequestKey key, string who)
    {
        Assert.True(ledger.TryGetAnswer(key, out var reply), $"{who}: no answer at all");
        Assert.True(reply.Status == CourierStatus.Ok, $"{who}: its body was dropped (status {reply.Status})");
    }

    [Fact]
    public void A_client_whose_replies_fill_the_bytes_drops_its_own_oldest_bodies_not_another_clients()
    {
        var ledger = Ledger();
        var victim = ClientIdentity.NewRandom();
        var flooder = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= 5; id++)
        {
            ledger.Remember(new RequestKey(victim, id), Reply());
        }

        for (ulong id = 1; id <= 50 * MaxBytes / Size; id++)
        {
            ledger.Remember(new RequestKey(flooder, id), Reply());
        }

        for (ulong id = 1; id <= 5; id++)
        {
            AssertKept(ledger, new RequestKey(victim, id), $"the victim's answer {id}");
        }

        // The flooder keeps its newest bodies within the bound; its oldest are still answered, 520, never run again.
        Assert.True(ledger.RememberedBytes <= MaxBytes, $"{ledger.RememberedBytes} bytes kept");
        AssertKept(ledger, new RequestKey(flooder, 50 * MaxBytes / Size), "the flooder's newest");
        Assert.True(ledger.TryGetAnswer(new RequestKey(flooder, 1), out var oldest));
        Assert.Equal(CourierStatus.OutcomeUnknown, oldest.Status);
    }

    [Fact]
    public void Once_a_flooder_filled_the_bytes_a_third_clients_bodies_come_out_of_the_flooders_not_the_victims()
    {
        var ledger = Ledger();
        var victim = ClientIdentity.NewRandom();
        var flooder = ClientIdentity.NewRandom();
        var third = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= 5; id++)
        {
            ledger.Remember(new RequestKey(victim, id), Reply());
        }

        for (ulong id = 1; id <= 10 * MaxBytes / Size; id++)
        {
            ledger.Remember(new RequestKey(flooder, id), Reply());
        }

        for (ulong id = 1; id <= 10; id++)
        {
            ledger.Remember(new RequestKey(third, id), Reply());
        }

        for (ulong id = 1; id <= 5; id++)
        {
            AssertKept(ledger, new RequestKey(victim, id), $"the victim's answer {id}");
        }

        for (ulong id = 1; id <= 10; id++)
        {
            AssertKept(ledger, new RequestKey(third, id), $"the third client's answer {id}");
        }

        Assert.True(ledger.RememberedBytes <= MaxBytes, $"{ledger.RememberedBytes} bytes kept");
    }

    [Fact]
    public void A_second_flooder_answered_one_reply_as_large_as_the_first_flooders_bodies_drops_its_own_not_the_victims()
    {
        var ledger = Ledger();
        var victim = ClientIdentity.NewRandom();
        var first = ClientIdentity.NewRandom();
        var second = ClientIdentity.NewRandom();
        ledger.Remember(new RequestKey(victim, 1), Reply());
        for (ulong id = 1; id < MaxBytes / Size; id++)
        {
            ledger.Remember(new RequestKey(first, id), Reply());
        }

        // Not more than the first flooder holds, so the first stays the one known to hold the most.
        ledger.Remember(new RequestKey(second, 1), Reply((int)MaxBytes - Size));

        AssertKept(ledger, new RequestKey(victim, 1), "the victim's answer");
        Assert.True(ledger.RememberedBytes <= MaxBytes, $"{ledger.RememberedBytes} bytes kept");
    }

    [Fact]
    public void A_client_over_its_share_that_stops_answering_gives_up_its_bodies_before_an_older_victims()
    {
        var ledger = Ledger();
        var victim = ClientIdentity.NewRandom();
        var idle = ClientIdentity.NewRandom();
        var busy = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= 10; id++)
        {
            ledger.Remember(new RequestKey(victim, id), Reply());
        }

        // 40 % of the bytes, then stops; 50 % from another, which is then the one known to hold the most.
        for (ulong id = 1; id <= 4 * MaxBytes / (10 * Size); id++)
        {
            ledger.Remember(new RequestKey(idle, id), Reply());
        }

        for (ulong id = 1; id <= 5 * MaxBytes / (10 * Size); id++)
        {
            ledger.Remember(new RequestKey(busy, id), Reply());
        }

        // The victim goes on, within its share: once the busy client is down to its share, the idle one's bodies go
        // before the victim's oldest.
        for (ulong id = 11; id <= 30; id++)
        {
            ledger.Remember(new RequestKey(victim, id), Reply());
        }

        for (ulong id = 1; id <= 30; id++)
        {
            AssertKept(ledger, new RequestKey(victim, id), $"the victim's answer {id}");
        }

        Assert.True(ledger.RememberedBytes <= MaxBytes, $"{ledger.RememberedBytes} bytes kept");
    }

    [Fact]
    public void Many_small_bodies_ahead_of_a_victims_do_not_shield_a_client_over_its_share()
    {
        var ledger = Ledger();
        var small = ClientIdentity.NewRandom();
        var victim = ClientIdentity.NewRandom();
        var idle = ClientIdentity.NewRandom();
        var busy = ClientIdentity.NewRandom();
        var other = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= 100; id++)
        {
            ledger.Remember(new RequestKey(small, id), Reply(1)); // older than the victim's, each within its share
        }

        ledger.Remember(new RequestKey(victim, 1), Reply());
        for (ulong id = 1; id <= 40; id++)
        {
            ledger.Remember(new RequestKey(idle, id), Reply()); // 4,000 bytes, twice its share of five, then nothing
        }

        for (ulong id = 1; id <= 41; id++)
        {
            ledger.Remember(new RequestKey(busy, id), Reply());
        }

        // Two clients within their share of 2,000 bytes go on: the busy client trims itself to its share, then the
        // idle one is over its share and must give up its bodies, not the victim its body behind the small ones.
        for (ulong id = 1; id <= 20; id++)
        {
            ledger.Remember(new RequestKey(other, id), Reply());
        }

        for (ulong id = 101; id <= 119; id++)
        {
            ledger.Remember(new RequestKey(small, id), Reply());
        }

        AssertKept(ledger, new RequestKey(victim, 1), "the victim's answer");
        Assert.True(ledger.RememberedBytes <= MaxBytes, $"{ledger.RememberedBytes} bytes kept");
    }

    [Fact]
    public void Under_CURVE_one_key_drawing_fresh_identities_drops_its_own_bodies()
    {
        var ledger = Ledger();
        var victim = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= 5; id++)
        {
            ledger.Remember(new RequestKey(victim, id), Reply(), userId: "victim-key");
        }

        for (var i = 0; i < 50 * MaxBytes / Size; i++)
        {
            ledger.Remember(new RequestKey(ClientIdentity.NewRandom(), 1), Reply(), userId: "flooder-key");
        }

        for (ulong id = 1; id <= 5; id++)
        {
            AssertKept(ledger, new RequestKey(victim, id), $"the victim's answer {id}");
        }
    }

    [Fact]
    public void Alone_a_client_may_use_all_the_bytes_and_they_come_back_as_its_answers_expire()
    {
        var clock = new FakeTimeProvider();
        var ledger = Ledger(clock);
        var client = ClientIdentity.NewRandom();
        const ulong Answers = 3 * MaxBytes / Size;
        for (ulong id = 1; id <= Answers; id++)
        {
            ledger.Remember(new RequestKey(client, id), Reply());
        }

        Assert.Equal(MaxBytes, ledger.RememberedBytes);
        AssertKept(ledger, new RequestKey(client, Answers - (MaxBytes / Size) + 1), "the oldest that fits");

        clock.Advance(TimeSpan.FromSeconds(61));
        ledger.Expire(clock.GetTimestamp());
        Assert.Equal(0, ledger.RememberedBytes);
        Assert.Equal(0, ledger.ShareCount);

        // A client's bytes left with its answers: a newcomer may use them all again.
        var next = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= MaxBytes / Size; id++)
        {
            ledger.Remember(new RequestKey(next, id), Reply());
        }

        Assert.Equal(MaxBytes, ledger.RememberedBytes);
        AssertKept(ledger, new RequestKey(next, 1), "the newcomer's first");
    }
}
