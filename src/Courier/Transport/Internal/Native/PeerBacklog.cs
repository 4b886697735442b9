using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Courier.Internal;

namespace Courier.Transport.Internal.Native;

/// <summary>
/// The bytes a ROUTER has handed libzmq for each peer and libzmq has not yet written to the connection (or dropped): a
/// peer that never reads its replies can make the process hold no more than
/// <see cref="TransportOptions.MaxPendingBytesPerPeer"/> for it. A message of <see cref="PendingBytes.TrackedMinimum"/> bytes or more
/// has its last frame handed over with <c>zmq_msg_init_data</c> and a free callback, which libzmq calls once the
/// message is written or dropped; smaller ones are copied by libzmq as before, uncounted (the high-water mark bounds
/// them). Loop thread only, but for the callback. A DEALER's count (<paramref name="onePeer"/>, a worker's) is one
/// account: it has a single peer, whose first frame names nothing; its budget bounds what a broker that does not read
/// makes the worker hold, and a graceful stop waits for the count to reach zero (<see cref="ITransportSocket.LargestPendingBytes"/>).
/// </summary>
/// <remarks>
/// Each peer's count lives in native memory (<see cref="Account"/>), reference-counted by the socket and by every
/// message in flight, so a callback that runs after the peer left or the socket closed (on libzmq's I/O or reaper
/// thread) still finds it, and the last one out frees it: no GCHandle, no lock, nothing the GC moves. The callback may
/// also run on the loop thread inside <c>zmq_msg_send</c> or <c>zmq_msg_close</c> of a tracked frame, which are
/// therefore called with the GC transition. Never used on a socket with an inproc endpoint: there the peer is a socket
/// of this process, whose receive (without the GC transition) would run the callback.
/// </remarks>
internal sealed unsafe class PeerBacklog(long budget, bool onePeer = false) : IDisposable
{
    private const int MinimumPruneAt = 64;
    private readonly Dictionary<byte[], nint> _accounts = new(ByteArrayComparer.Instance);
    private int _pruneAt = MinimumPruneAt;

    /// <summary>Why the last refused send was refused: the peer's pending bytes, its full queue, or its absence.</summary>
    public SendRefusal LastRefusal { get; private set; }

    /// <summary>
    /// Sends one message of <paramref name="total"/> bytes (at least <see cref="PendingBytes.TrackedMinimum"/>) to the peer named by
    /// its first frame, counted against that peer's budget: refused when the peer already has bytes pending and this
    /// message would take it past the budget (a message larger than the whole budget still goes to a peer with nothing
    /// pending). False when refused, by the budget or by libzmq.
    /// </summary>
    public bool TrySend(nint socket, ReadOnlySpan<ReadOnlyMemory<byte>> frames, long total)
    {
        var account = AccountOf(onePeer ? default : frames[0].Span);
        var pending = Volatile.Read(ref account->Pending);
        if (pending > 0 && pending + total > budget)
        {
            LastRefusal = SendRefusal.OverBudget;
            return false;
        }

        for (var i = 0; i < frames.Length - 1; i++)
        {
            int sent;
            fixed (byte* data = frames[i].Span)
            {
                sent = LibZmq.zmq_send(socket, data, (nuint)frames[i].Length, LibZmq.DontWait | LibZmq.SendMore);
            }

            // A multipart message is queued atomically: only its first frame can be refused.
            if (sent < 0)
            {
                LastRefusal = LibZmq.Refusal();
                return false;
            }
        }

        // The last frame's bytes follow the block, or, for a frame received as it came (a broker passing a body on),
        // stay where they are: the block then holds a reference to them instead.
        Block* block;
        byte* bytes;
        if (NativeFrame.TryGet(frames[^1], out var native, out var start, out var length))
        {
            block = (Block*)NativeMemory.Alloc((nuint)sizeof(Block));
            block->Shared = native.Share(out var shared);
            bytes = shared + start;
        }
        else
        {
            var last = frames[^1].Span;
            length = last.Length;
            block = (Block*)NativeMemory.Alloc((nuint)(sizeof(Block) + length));
            block->Shared = null;
            bytes = (byte*)(block + 1);
            last.CopyTo(new Span<byte>(bytes, length));
        }

        block->Account = account;
        block->Bytes = total;

        // Counted before libzmq has it: its I/O thread may write it, and call back, before zmq_msg_send returns.
        Interlocked.Add(ref account->Pending, total);
        Interlocked.Increment(ref account->References);
        ZmqMsg msg;
        if (LibZmq.zmq_msg_init_data(&msg, bytes, (nuint)length, &Release, block) != 0)
        {
            Free(block);
            LastRefusal = SendRefusal.None;
            return false;
        }

        if (LibZmq.zmq_msg_send(&msg, socket, LibZmq.DontWait) >= 0)
        {
            return true;
        }

        LastRefusal = LibZmq.Refusal();

        // Still ours: closing it runs the callback, which takes the count back.
        _ = LibZmq.zmq_msg_close_tracked(&msg);
        return false;
    }

    /// <summary>The most bytes any one peer has pending now (for tests and diagnostics).</summary>
    public long LargestPending()
    {
        long largest = 0;
        foreach (var account in _accounts.Values)
        {
            largest = Math.Max(largest, Volatile.Read(ref ((Account*)account)->Pending));
        }

        return largest;
    }

    /// <summary>The socket is closing: its references go; what libzmq still holds frees the rest as it drops it.</summary>
    public void Dispose()
    {
        foreach (var account in _accounts.Values)
        {
            Unreference((Account*)account);
        }

        _accounts.Clear();
    }

    private Account* AccountOf(ReadOnlySpan<byte> peer)
    {
        if (_accounts.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(peer, out var known))
        {
            return (Account*)known;
        }

        if (_accounts.Count >= _pruneAt)
        {
            Prune();
        }

        var account = (Account*)NativeMemory.Alloc((nuint)sizeof(Account));
        account->Pending = 0;
        account->References = 1; // the socket's
        _accounts.Add(peer.ToArray(), (nint)account);
        return account;
    }

    /// <summary>
    /// Forgets the peers with nothing in flight (routing ids come and go): the table so holds the peers with bytes
    /// pending and a few recent ones, whatever the number of connections over time.
    /// </summary>
    private void Prune()
    {
        List<byte[]>? idle = null;
        foreach (var (peer, account) in _accounts)
        {
            // Only the socket's reference left: no message refers to it, and no callback can be running on it (the
            // decrement of its reference is a callback's last touch of an account).
            if (Volatile.Read(ref ((Account*)account)->References) == 1)
            {
                (idle ??= []).Add(peer);
            }
        }

        foreach (var peer in idle ?? [])
        {
            _accounts.Remove(peer, out var account);
            Unreference((Account*)account);
        }

        _pruneAt = Math.Max(MinimumPruneAt, _accounts.Count * 2);
    }

    private static void Unreference(Account* account)
    {
        if (Interlocked.Decrement(ref account->References) == 0)
        {
            NativeMemory.Free(account);
        }
    }

    /// <summary>
    /// libzmq's free callback (<c>zmq_free_fn</c>): the message was written or dropped. Runs on libzmq's I/O or reaper
    /// thread, or on the loop thread inside a send or close of a tracked frame; touches only native memory.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Release(void* data, void* hint) => Free((Block*)hint);

    private static void Free(Block* block)
    {
        var account = block->Account;
        var bytes = block->Bytes;
        if (block->Shared is not null)
        {
            NativeFrame.Unreference(block->Shared);
        }

        NativeMemory.Free(block);
        Interlocked.Add(ref account->Pending, -bytes);
        Unreference(account);
    }

    /// <summary>One peer's count: bytes pending, and references (the socket's, while it knows the peer, and one per message).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Account
    {
        public long Pending;
        public long References;
    }

    /// <summary>
    /// What precedes a tracked frame's bytes in its allocation: whose bytes they are, how many the message counts, and
    /// the <see cref="NativeFrame"/> holding the bytes instead, if one does.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Block
    {
        public Account* Account;
        public long Bytes;
        public void* Shared;
    }
}
