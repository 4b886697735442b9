using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Serving.Internal;

namespace Courier.Tests.Unit;

/// <summary>
/// The at-most-once ledger finds the client holding the most bytes only when they are over the bound, from a heap whose
/// bounds lag behind the shares' bytes: whatever the order of growth and loss, it must name a share holding the most.
/// </summary>
public sealed class HeaviestSharesTests
{
    [Fact]
    public void Names_a_share_holding_the_most_bytes_through_random_growth_and_loss()
    {
        var random = new Random(1234);
        var shares = Enumerable.Range(0, 20)
            .Select(_ => new LedgerShare(new ClientShare(ClientIdentity.NewRandom(), null)))
            .ToArray();
        var heap = new HeaviestShares();
        for (var step = 0; step < 20_000; step++)
        {
            var share = shares[random.Next(shares.Length)];
            if (random.Next(3) > 0)
            {
                var size = random.Next(1, 1 << random.Next(1, 16));
                var answer = new LedgerAnswer(new RememberedReply(CourierStatus.Ok, [new byte[size]], []), size) { Share = share };
                share.Add(new RequestKey(ClientIdentity.NewRandom(), 1), answer);
                share.AddBody(answer);
                heap.Grew(share);
            }
            else if (random.Next(50) == 0)
            {
                // It leaves, holding nothing; the same client comes back later as a new share.
                while (share.TryTakeOldestBody(out var body))
                {
                    body.DropBody(DeliveryLedger<object>.Forgotten(body.Bytes));
                }

                share.Clear();
                shares[Array.IndexOf(shares, share)] = new LedgerShare(share.Owner);
            }
            else if (share.TryTakeOldestBody(out var oldest))
            {
                oldest.DropBody(DeliveryLedger<object>.Forgotten(oldest.Bytes));
            }

            if (step % 1000 == 999)
            {
                heap.Rebuild(shares);
            }

            if (step % 7 == 0)
            {
                var most = shares.Max(s => s.Bytes);
                var named = heap.Heaviest();
                Assert.Equal(most, named?.Bytes ?? 0);
            }
        }
    }
}
