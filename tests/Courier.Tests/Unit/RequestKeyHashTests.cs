using Courier.Protocol.Internal;
using Courier.Serving.Internal;

namespace Courier.Tests.Unit;

/// <summary>
/// A client picks every bit of the at-most-once key (its identity and its request ids), so a key's hash must not let it
/// pile its requests into one bucket of the ledger, where each insert would walk all the others on the loop thread.
/// </summary>
public sealed class RequestKeyHashTests
{
    // ulong.GetHashCode XORs the two halves: each of these ids hashed to 0 under the record's generated hash.
    private static IEnumerable<RequestKey> Crafted(int count, ClientIdentity client)
    {
        for (ulong k = 1; k <= (ulong)count; k++)
        {
            yield return new RequestKey(client, (k << 32) | k);
        }
    }

    [Fact]
    public void Request_ids_crafted_to_collide_spread_over_the_hash_space()
    {
        var distinct = Crafted(10_000, new ClientIdentity(0x1234, 0x5678)).Select(key => key.GetHashCode()).Distinct().Count();

        Assert.True(distinct > 9_900, $"{distinct} distinct hashes of 10,000 crafted keys");
    }

    [Fact]
    public void Identities_crafted_to_collide_spread_over_the_hash_space()
    {
        var distinct = Enumerable.Range(1, 10_000)
            .Select(i => new RequestKey(new ClientIdentity(((ulong)i << 32) | (uint)i, 1), 1).GetHashCode())
            .Distinct().Count();

        Assert.True(distinct > 9_900, $"{distinct} distinct hashes of 10,000 crafted identities");
    }

    [Fact]
    public void A_ledger_holds_a_flood_of_crafted_keys_and_finds_each()
    {
        // 20,000 answered requests whose ids were picked to collide: with one bucket this is 200 million comparisons
        // (seconds of a loop); spread, it is instant. The test asserts what the ledger keeps, not a time.
        var ledger = new DeliveryLedger<object>(TimeSpan.FromMinutes(1), capacity: 100_000, TimeProvider.System);
        var client = new ClientIdentity(7, 7);
        var running = new object();
        var keys = Crafted(20_000, client).ToArray();
        foreach (var key in keys)
        {
            ledger.Start(key, running);
            ledger.Forget(key, running);
            ledger.Remember(key, new RememberedReply(200, [], []));
        }

        Assert.Equal(20_000, ledger.AnsweredCount);
        Assert.All(keys.Where((_, i) => i % 1000 == 0), key => Assert.True(ledger.TryGetAnswer(key, out _)));
        Assert.False(ledger.TryGetAnswer(new RequestKey(client, 1UL << 32), out _));
    }
}
