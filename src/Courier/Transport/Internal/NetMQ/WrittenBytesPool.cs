using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using NetMQ;

namespace Courier.Transport.Internal.NetMQ;

/// <summary>
/// NetMQ's buffer pool, wrapped to learn when a message was written: NetMQ says nothing when it writes a message, but it
/// gives a pooled message's buffer back (<see cref="IBufferPool.Return"/>) once its encoder has taken the bytes, or when
/// it drops the message with its connection. A message made by <see cref="InitTracked"/> so releases its bytes from its
/// peer's count (<see cref="NetMqPeerBacklog"/>) at that moment. Process-wide, as NetMQ's pool is: installed once, around
/// the pool NetMQ had then (its default allocates fresh arrays, as this does when that pool cannot be read).
/// </summary>
/// <remarks>
/// A tracked buffer carries its own tag past the message's bytes (NetMQ reads only the message's size of it): a secret
/// of this process, its account's number and its byte count. Returning it costs a read of those bytes and one lookup
/// of the account: no table of buffers, nothing allocated per message. No peer can forge a tag on a buffer of its own
/// (a received message's) without the secret; a tag is wiped when its buffer comes back, so a pool that hands the
/// buffer out again never counts it twice.
/// </remarks>
internal sealed class WrittenBytesPool : IBufferPool
{
    private const int TagSize = 3 * sizeof(long);
    private static readonly Lock InstallGate = new();
    private static WrittenBytesPool? _installed;

    // Set by InitTracked around its InitPool: Take then makes room for the tag and leaves the buffer here (none: NetMQ's
    // pool is no longer this one).
    [ThreadStatic]
    private static bool _taking;
    [ThreadStatic]
    private static byte[]? _lastTaken;

    private readonly long _secret = BitConverter.ToInt64(RandomNumberGenerator.GetBytes(sizeof(long)));
    private readonly IBufferPool? _inner;
    private readonly ConcurrentDictionary<long, NetMqPeerBacklog.Account> _accounts = new();
    private long _lastAccountId;
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
                    // Written straight into NetMQ's field where it can be: SetCustomBufferPool would dispose the pool
                    // it replaces, which this one goes on using.
                    var poolField = PoolField();
                    var current = poolField?.GetValue(null) as IBufferPool;
                    _installed = new WrittenBytesPool(current is GCBufferPool ? null : current);
                    if (poolField is not null && current is not null)
                    {
                        poolField.SetValue(null, _installed);
                    }
                    else
                    {
                        BufferPool.SetCustomBufferPool(_installed);
                    }
                }

                return _installed;
            }
        }
    }

    /// <summary>Gives <paramref name="account"/> its number: returned buffers find it by that. Any thread.</summary>
    public void Register(NetMqPeerBacklog.Account account)
    {
        account.Id = Interlocked.Increment(ref _lastAccountId);
        _accounts[account.Id] = account;
    }

    /// <summary>Forgets <paramref name="account"/>: buffers of its that come back later lower no count. Any thread.</summary>
    public void Unregister(NetMqPeerBacklog.Account account) => _accounts.TryRemove(account.Id, out _);

    /// <summary>
    /// Makes <paramref name="msg"/> a pooled message of <paramref name="size"/> bytes (not zero) and counts
    /// <paramref name="bytes"/> against <paramref name="account"/> (registered) until NetMQ gives its buffer back. Call
    /// before sending it. False (nothing counted) when the buffer did not come from this pool.
    /// </summary>
    public bool InitTracked(ref Msg msg, int size, NetMqPeerBacklog.Account account, long bytes)
    {
        _taking = true;
        try
        {
            msg.InitPool(size);
        }
        finally
        {
            _taking = false;
        }

        var buffer = _lastTaken;
        _lastTaken = null;
        if (buffer is null)
        {
            _replaced = true;
            return false;
        }

        Interlocked.Add(ref account.Pending, bytes);
        var tag = buffer.AsSpan(buffer.Length - TagSize);
        BinaryPrimitives.WriteInt64LittleEndian(tag, _secret);
        BinaryPrimitives.WriteInt64LittleEndian(tag[sizeof(long)..], account.Id);
        BinaryPrimitives.WriteInt64LittleEndian(tag[(2 * sizeof(long))..], bytes);
        return true;
    }

    public byte[] Take(int size)
    {
        if (!_taking)
        {
            return _inner?.Take(size) ?? new byte[size];
        }

        var buffer = _inner?.Take(size + TagSize) ?? new byte[size + TagSize];
        _lastTaken = buffer;
        return buffer;
    }

    /// <summary>Any thread: NetMQ's I/O thread once it has encoded the message, or whichever thread drops it.</summary>
    public void Return(byte[] buffer)
    {
        if (buffer.Length >= TagSize)
        {
            var tag = buffer.AsSpan(buffer.Length - TagSize);
            if (BinaryPrimitives.ReadInt64LittleEndian(tag) == _secret)
            {
                var id = BinaryPrimitives.ReadInt64LittleEndian(tag[sizeof(long)..]);
                var bytes = BinaryPrimitives.ReadInt64LittleEndian(tag[(2 * sizeof(long))..]);
                tag.Clear();
                if (_accounts.TryGetValue(id, out var account))
                {
                    Interlocked.Add(ref account.Pending, -bytes);
                }
            }
        }

        _inner?.Return(buffer);
    }

    /// <summary>
    /// NetMQ disposes the pool it replaces (<c>BufferPool.SetCustomBufferPool</c>): from then on buffers go back to the
    /// new one, and counts can no longer come down.
    /// </summary>
    public void Dispose() => _replaced = true;

    // NetMQ exposes no getter for its pool; trimming keeps NetMQ whole (it is not annotated for it).
    private static FieldInfo? PoolField()
        => typeof(BufferPool).GetField("s_bufferPool", BindingFlags.Static | BindingFlags.NonPublic) is { } found
            && found.FieldType == typeof(IBufferPool) && !found.IsInitOnly
            ? found
            : null;
}
