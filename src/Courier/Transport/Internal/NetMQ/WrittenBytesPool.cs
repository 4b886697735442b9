using System.Reflection;
using System.Runtime.CompilerServices;
using NetMQ;

namespace Courier.Transport.Internal.NetMQ;

/// <summary>
/// NetMQ's buffer pool, wrapped to learn when a message was written: NetMQ says nothing when it writes a message, but it
/// gives a pooled message's buffer back (<see cref="IBufferPool.Return"/>) once its encoder has taken the bytes, or when
/// it drops the message with its connection. A message made by <see cref="InitTracked"/> so releases its bytes from its
/// peer's count (<see cref="NetMqPeerBacklog"/>) at that moment. Process-wide, as NetMQ's pool is: installed once, around
/// the pool NetMQ had then (its default allocates fresh arrays, as this does when that pool cannot be read).
/// </summary>
internal sealed class WrittenBytesPool : IBufferPool
{
    private static readonly Lock InstallGate = new();
    private static WrittenBytesPool? _installed;

    // The buffer this thread's last Take returned, read by InitTracked: none means NetMQ's pool is no longer this one.
    [ThreadStatic]
    private static byte[]? _lastTaken;

    private readonly IBufferPool? _inner;
    // Weak: a buffer NetMQ drops without returning it (it should not) takes its entry with it, not a leak.
    private readonly ConditionalWeakTable<byte[], Entry> _tracked = new();
    private int _trackedCount;
    private volatile bool _replaced;

    private WrittenBytesPool(IBufferPool? inner) => _inner = inner;

    /// <summary>
    /// Whether someone set another pool since this one was installed: buffers then no longer come back here, so bytes
    /// cannot be counted and <see cref="NetMqPeerBacklog"/> stops refusing for them.
    /// </summary>
    public bool Replaced => _replaced;

    /// <summary>The process's instance, installed as NetMQ's pool on first use.</summary>
    public static WrittenBytesPool Installed
    {
        get
        {
            lock (InstallGate)
            {
                if (_installed is null)
                {
                    _installed = new WrittenBytesPool(CurrentPool());
                    BufferPool.SetCustomBufferPool(_installed);
                }

                return _installed;
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="msg"/> a pooled message of <paramref name="size"/> bytes (not zero) and counts
    /// <paramref name="bytes"/> against <paramref name="account"/> until NetMQ gives its buffer back. Call before sending
    /// it. False (nothing counted) when the buffer did not come from this pool.
    /// </summary>
    public bool InitTracked(ref Msg msg, int size, NetMqPeerBacklog.Account account, long bytes)
    {
        _lastTaken = null;
        msg.InitPool(size);
        var buffer = _lastTaken;
        _lastTaken = null;
        if (buffer is null)
        {
            _replaced = true;
            return false;
        }

        Interlocked.Add(ref account.Pending, bytes);
        _tracked.Add(buffer, new Entry(account, bytes));
        Interlocked.Increment(ref _trackedCount);
        return true;
    }

    public byte[] Take(int size)
    {
        var buffer = _inner?.Take(size) ?? new byte[size];
        _lastTaken = buffer;
        return buffer;
    }

    /// <summary>Any thread: NetMQ's I/O thread once it has encoded the message, or whichever thread drops it.</summary>
    public void Return(byte[] buffer)
    {
        if (Volatile.Read(ref _trackedCount) != 0 && _tracked.TryGetValue(buffer, out var entry) && _tracked.Remove(buffer))
        {
            Interlocked.Decrement(ref _trackedCount);
            Interlocked.Add(ref entry.Account.Pending, -entry.Bytes);
        }

        _inner?.Return(buffer);
    }

    /// <summary>Installed for the process's lifetime: nothing to give back.</summary>
    public void Dispose()
    {
    }

    // NetMQ exposes no getter for its pool; trimming keeps NetMQ whole (it is not annotated for it). Null: NetMQ's default.
    private static IBufferPool? CurrentPool()
        => typeof(BufferPool).GetField("s_bufferPool", BindingFlags.Static | BindingFlags.NonPublic)?.GetValue(null) is IBufferPool pool
            and not GCBufferPool
            ? pool
            : null;

    private sealed record Entry(NetMqPeerBacklog.Account Account, long Bytes);
}
