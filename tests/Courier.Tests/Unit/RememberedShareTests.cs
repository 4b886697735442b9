using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Serving.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Courier.Tests.Unit;

/// <summary>
/// The at-most-once ledger's count is shared fairly: once it is full, a client holding more than its share pushes out
/// its own oldest answers, not the other clients'. Without that, one client answering fast enough emptied the ledger of
/// everyone else's answers within the window, and their repeats ran again. Under CURVE a client is its key.
/// </summary>
public sealed class RememberedShareTests
{
    private const int Capacity = 100;

    private static RememberedReply Reply() => new(CourierStatus.Ok, [new byte[8]], []);

    [Fact]
    public void A_client_answered_many_times_over_the_capacity_pushes_out_only_its_own_answers()
    {
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), Capacity, new FakeTimeProvider());
        var victim = ClientIdentity.NewRandom();
        var flooder = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= 10; id++)
        {
            ledger.Remember(new RequestKey(victim, id), Reply());
        }

        for (ulong id = 1; id <= 50 * Capacity; id++)
        {
            ledger.Remember(new RequestKey(flooder, id), Reply());
        }

        for (ulong id = 1; id <= 10; id++)
        {
            Assert.True(ledger.TryGetAnswer(new RequestKey(victim, id), out _), $"the victim's answer {id} was pushed out");
        }

        // The flooder keeps its newest, up to the rest of the capacity; the count never passes it.
        Assert.Equal(Capacity, ledger.AnsweredCount);
        Assert.True(ledger.TryGetAnswer(new RequestKey(flooder, 50 * Capacity), out _));
        Assert.False(ledger.TryGetAnswer(new RequestKey(flooder, 1), out _));
    }

    [Fact]
    public void Once_a_flooder_filled_the_ledger_a_third_clients_answers_push_out_the_flooders_not_the_victims()
    {
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), Capacity, new FakeTimeProvider());
        var victim = ClientIdentity.NewRandom();
        var flooder = ClientIdentity.NewRandom();
        var third = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= 10; id++)
        {
            ledger.Remember(new RequestKey(victim, id), Reply());
        }

        for (ulong id = 1; id <= 10 * Capacity; id++)
        {
            ledger.Remember(new RequestKey(flooder, id), Reply());
        }

        // The third client stays under its share: what it adds must come out of the flooder's, the heaviest.
        for (ulong id = 1; id <= 20; id++)
        {
            ledger.Remember(new RequestKey(third, id), Reply());
        }

        for (ulong id = 1; id <= 10; id++)
        {
            Assert.True(ledger.TryGetAnswer(new RequestKey(victim, id), out _), $"the victim's answer {id} was pushed out");
        }

        for (ulong id = 1; id <= 20; id++)
        {
            Assert.True(ledger.TryGetAnswer(new RequestKey(third, id), out _), $"the third client's answer {id} was pushed out");
        }

        Assert.Equal(Capacity, ledger.AnsweredCount);
    }

    [Fact]
    public void Under_CURVE_one_key_is_one_client_whatever_identities_it_draws()
    {
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), Capacity, new FakeTimeProvider());
        var victim = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= 10; id++)
        {
            ledger.Remember(new RequestKey(victim, id), Reply(), userId: "victim-key");
        }

        // A new identity for every request, all under one key.
        for (var i = 0; i < 50 * Capacity; i++)
        {
            ledger.Remember(new RequestKey(ClientIdentity.NewRandom(), 1), Reply(), userId: "flooder-key");
        }

        for (ulong id = 1; id <= 10; id++)
        {
            Assert.True(ledger.TryGetAnswer(new RequestKey(victim, id), out _), $"the victim's answer {id} was pushed out");
        }

        Assert.Equal(Capacity, ledger.AnsweredCount);
    }

    [Fact]
    public void Alone_a_client_may_use_the_whole_capacity_and_answers_still_expire_by_age()
    {
        var clock = new FakeTimeProvider();
        var ledger = new DeliveryLedger<object>(TimeSpan.FromSeconds(60), Capacity, clock);
        var client = ClientIdentity.NewRandom();
        for (ulong id = 1; id <= 3 * Capacity; id++)
        {
            ledger.Remember(new RequestKey(client, id), Reply());
        }

        Assert.Equal(Capacity, ledger.AnsweredCount);
        Assert.True(ledger.TryGetAnswer(new RequestKey(client, (3 * Capacity) - Capacity + 1), out _));

        clock.Advance(TimeSpan.FromSeconds(61));
        ledger.Expire(clock.GetTimestamp());
        Assert.Equal(0, ledger.AnsweredCount);
        Assert.Equal(0, ledger.RememberedBytes);
        Assert.Equal(0, ledger.ShareCount);

        // And the ledger serves again afterwards, its shares gone with their answers.
        ledger.Remember(new RequestKey(client, 1), Reply());
        Assert.True(ledger.TryGetAnswer(new RequestKey(client, 1), out _));
        Assert.Equal(1, ledger.AnsweredCount);
    }
}
