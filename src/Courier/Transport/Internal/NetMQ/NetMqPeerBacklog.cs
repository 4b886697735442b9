using Courier.Internal;
using Courier.Transport.Internal.Native;
using NetMQ;

namespace Courier.Transport.Internal.NetMQ;

/// <summary>
/// The managed transport's count of the bytes a ROUTER has handed NetMQ for each peer and NetMQ has not yet written (or
/// dropped), as <see cref="PeerBacklog"/> counts them for libzmq: a peer that never reads its replies can make the
/// process hold no more than <see cref="TransportOptions.MaxPendingBytesPerPeer"/> for it. A message of
/// <see cref="PendingBytes.TrackedMinimum"/> bytes or more is counted until NetMQ gives its last frame's pooled buffer
/// back (<see cref="WrittenBytesPool"/>); smaller ones are not (the high-water mark bounds them). Loop thread only, but
/// for the counts, which NetMQ's I/O thread lowers. A DEALER's count (<paramref name="onePeer"/>) is one account, as
/// <see cref="PeerBacklog"/>'s.
/// </summary>
internal sealed class NetMqPeerBacklog(long budget, bool onePeer = false) : IDisposable
{
    private const int MinimumPruneAt = 64;
    private readonly WrittenBytesPool _pool = WrittenBytesPool.Installed;
    private readonly Dictionary<byte[], Account> _accounts = new(ByteArrayComparer.Instance);
    private int _pruneAt = MinimumPruneAt;

    /// <summary>Why the last refused send was refused: the peer's pending bytes, its full queue, or its absence.</summary>
    public SendRefusal LastRefusal { get; private set; }

    /// <summary>
    /// Sends one message of <paramref name="total"/> bytes (at least <see cref="PendingBytes.TrackedMinimum"/>, its last
    /// frame not empty) to the peer named by its first frame, counted against that peer's budget: refused when the peer
    /// already has bytes pending and this message would take it past the budget (a message larger than the whole budget
    /// still goes to a peer with nothing pending). False when refused, by the budget or by NetMQ.
    /// </summary>
    public bool TrySend(NetMQSocket socket, ReadOnlySpan<ReadOnlyMemory<byte>> frames, long total)
    {
        var account = AccountOf(onePeer ? default : frames[0].Span);
        var pending = Volatile.Read(ref account.Pending);
        // Once another pool replaced ours, counts no longer come down: refusing by them would starve the peer.
        if (pending > 0 && pending + total > budget && !_pool.Replaced)
        {
            LastRefusal = SendRefusal.OverBudget;
            return false;
        }

        for (var i = 0; i < frames.Length - 1; i++)
        {
            // A multipart message is queued atomically: only its first frame can be refused.
            if ((LastRefusal = NetMqSocket.SendFrame(socket, frames[i].Span, more: true)) != SendRefusal.None)
            {
                return false;
            }
        }

        var last = frames[^1].Span;
        var msg = default(Msg);
        // Counted before NetMQ has it: its I/O thread may write it, and give the buffer back, before TrySend returns.
        _ = _pool.InitTracked(ref msg, last.Length, account, total);
        last.CopyTo(msg);
        return (LastRefusal = NetMqSocket.Send(socket, ref msg, more: false)) == SendRefusal.None;
    }

    /// <summary>
    /// A peer left (known where the socket reports dropped peers: a broker's): its count goes. NetMQ may drop a message
    /// sent to a peer as it leaves without giving its buffer back (a multipart message whose pipe ended between its
    /// frames), so that count could never come down, and a later peer with the same routing id would inherit it. The
    /// buffers of such messages are never seen again. A server's socket hears of no dropped peer: there such a count
    /// stays, at most one message's bytes for that routing id (NetMQ numbers the ids it makes afresh for each connection).
    /// </summary>
    public void Forget(ReadOnlySpan<byte> peer)
    {
        if (_accounts.GetAlternateLookup<ReadOnlySpan<byte>>().Remove(peer, out _, out var account))
        {
            _pool.Unregister(account);
        }
    }

    /// <summary>
    /// The socket closed: its accounts leave the process-wide pool (<see cref="WrittenBytesPool"/>), which held them for
    /// the life of the process before. Buffers of theirs that come back later lower no count.
    /// </summary>
    public void Dispose()
    {
        foreach (var account in _accounts.Values)
        {
            _pool.Unregister(account);
        }

        _accounts.Clear();
    }

    /// <summary>The most bytes any one peer has pending now (for tests and diagnostics).</summary>
    public long LargestPending()
    {
        long largest = 0;
        foreach (var account in _accounts.Values)
        {
            largest = Math.Max(largest, Volatile.Read(ref account.Pending));
        }

        return largest;
    }

    private Account AccountOf(ReadOnlySpan<byte> peer)
    {
        if (_accounts.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(peer, out var known))
        {
            return known;
        }

        if (_accounts.Count >= _pruneAt)
        {
            Prune();
        }

        var account = new Account();
        _pool.Register(account);
        _accounts.Add(peer.ToArray(), account);
        return account;
    }

    /// <summary>
    /// Forgets the peers with nothing pending (routing ids come and go): the table so holds the peers with bytes pending
    /// and a few recent ones, whatever the number of connections over time.
    /// </summary>
    private void Prune()
    {
        List<byte[]>? idle = null;
        foreach (var (peer, account) in _accounts)
        {
            if (Volatile.Read(ref account.Pending) == 0)
            {
                (idle ??= []).Add(peer);
            }
        }

        foreach (var peer in idle ?? [])
        {
            _accounts.Remove(peer, out var account);
            _pool.Unregister(account!);
        }

        _pruneAt = Math.Max(MinimumPruneAt, _accounts.Count * 2);
    }

    /// <summary>One peer's bytes handed to NetMQ and not yet given back, and its number in <see cref="WrittenBytesPool"/>.</summary>
    internal sealed class Account
    {
        public long Pending;

        public long Id { get; set; }
    }
}
