using System.Collections;
using System.Text;
using Courier.Protocol.Internal;

namespace Courier.Protocol;

/// <summary>
/// Ordered key/value metadata of a request or a reply (courier/5, docs/protocol.md §8): a trace context, a tenant, a
/// content type. Keys may repeat; order is kept. Bounded: at most <see cref="MaxCount"/> entries and
/// <see cref="MaxSize"/> bytes of keys and values (UTF-8) together; <see cref="Add"/> throws beyond either, and a peer
/// that sends more is answered <c>400</c>. A request's own headers, as a handler sees them, are read-only.
/// </summary>
public sealed class CourierHeaders : IReadOnlyList<KeyValuePair<string, string>>
{
    /// <summary>Most entries one request or reply carries: 64.</summary>
    public const int MaxCount = HeaderBlock.MaxCount;

    /// <summary>Most bytes of keys and values (UTF-8) one request or reply carries: 8 KiB.</summary>
    public const int MaxSize = HeaderBlock.MaxSize;

    /// <summary>Longest key, in bytes: 255 (a key is printable ASCII without spaces, as an HTTP field name).</summary>
    public const int MaxKeyLength = HeaderBlock.MaxKeyLength;

    private readonly List<KeyValuePair<string, string>> _entries;
    private int _size;

    /// <summary>An empty, writable collection.</summary>
    public CourierHeaders()
    {
        _entries = [];
    }

    private CourierHeaders(List<KeyValuePair<string, string>> entries, int size)
    {
        _entries = entries;
        _size = size;
        IsReadOnly = true;
    }

    /// <summary>A read-only collection of one entry (already known valid): safe to share between requests.</summary>
    internal static CourierHeaders Single(string key, string value)
        => new([new KeyValuePair<string, string>(key, value)], key.Length + Encoding.UTF8.GetByteCount(value));

    /// <summary>An empty read-only collection.</summary>
    public static CourierHeaders Empty { get; } = new([], 0);

    /// <summary>True for headers received from a peer: they are as it sent them.</summary>
    public bool IsReadOnly { get; }

    /// <inheritdoc/>
    public int Count => _entries.Count;

    /// <summary>Bytes of keys and values (UTF-8) so far, counted against <see cref="MaxSize"/>.</summary>
    public int Size => _size;

    /// <inheritdoc/>
    public KeyValuePair<string, string> this[int index] => _entries[index];

    /// <summary>The first value of <paramref name="key"/> (compared ordinally), or null.</summary>
    public string? this[string key] => TryGetValue(key, out var value) ? value : null;

    /// <summary>Adds an entry after the others; returns this collection, for chaining.</summary>
    /// <exception cref="ArgumentException">The key is empty, longer than <see cref="MaxKeyLength"/> bytes or not printable ASCII without spaces, or the entry would pass <see cref="MaxCount"/> or <see cref="MaxSize"/>.</exception>
    /// <exception cref="InvalidOperationException">The collection is read-only (a received request's headers).</exception>
    public CourierHeaders Add(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (IsReadOnly)
        {
            throw new InvalidOperationException("These headers were received and are read-only; set headers on the reply (CourierRequest.ReplyHeaders) or a new collection.");
        }

        if (!HeaderBlock.IsValidKey(key))
        {
            throw new ArgumentException($"Header key '{key}' must be 1-{MaxKeyLength} bytes of printable ASCII without spaces.", nameof(key));
        }

        var size = key.Length + Encoding.UTF8.GetByteCount(value);
        if (_entries.Count >= MaxCount)
        {
            throw new ArgumentException($"Headers hold at most {MaxCount} entries.", nameof(key));
        }

        if (_size + size > MaxSize)
        {
            throw new ArgumentException($"Headers hold at most {MaxSize} bytes of keys and values; '{key}' would make {_size + size}.", nameof(value));
        }

        _entries.Add(new KeyValuePair<string, string>(key, value));
        _size += size;
        return this;
    }

    /// <summary>The first value of <paramref name="key"/> (compared ordinally).</summary>
    public bool TryGetValue(string key, out string value)
    {
        foreach (var entry in _entries)
        {
            if (string.Equals(entry.Key, key, StringComparison.Ordinal))
            {
                value = entry.Value;
                return true;
            }
        }

        value = "";
        return false;
    }

    /// <summary>Every value of <paramref name="key"/>, in order.</summary>
    public IEnumerable<string> GetValues(string key)
        => _entries.Where(e => string.Equals(e.Key, key, StringComparison.Ordinal)).Select(e => e.Value);

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Headers decoded from a block a peer sent (already checked by <see cref="HeaderBlock.Check"/>).</summary>
    internal static CourierHeaders Decode(ReadOnlySpan<byte> block)
    {
        if (block.IsEmpty)
        {
            return Empty;
        }

        var entries = new List<KeyValuePair<string, string>>();
        var size = 0;
        var reader = new HeaderBlock.Reader(block);
        while (reader.TryRead(out var key, out var value))
        {
            entries.Add(new KeyValuePair<string, string>(Encoding.ASCII.GetString(key), Encoding.UTF8.GetString(value)));
            size += key.Length + value.Length;
        }

        return new CourierHeaders(entries, size);
    }

    /// <summary>The block that carries these headers on the wire; empty when there are none.</summary>
    internal byte[] Encode() => HeaderBlock.Encode(_entries);
}
