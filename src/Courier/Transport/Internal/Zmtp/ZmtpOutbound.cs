namespace Courier.Transport.Internal.Zmtp;

/// <summary>
/// What a connection has to write, encoded as ZMTP frames, in order: whole messages (counted against the high-water
/// mark, as libzmq counts its pipe) and the commands written between them. A message that could not all be written before
/// its connection ended is dropped (the peer saw half of it); the ones behind it wait for the next connection, as
/// libzmq's pipe keeps them. Loop thread only.
/// </summary>
internal sealed class ZmtpOutbound
{
    private const int InitialSize = 16 * 1024;
    // Several large messages in flight on one connection wait here together: one array per message would be a
    // large-object allocation each.
    private const int RetainedSize = 8 * 1024 * 1024;

    private byte[] _buffer = new byte[InitialSize];
    private int _start;
    private int _end;

    // Each unit's size in bytes, in order, negative for a command; and how much of the first one is written.
    private readonly Queue<int> _units = new();
    private int _headWritten;

    /// <summary>Messages queued and not all written.</summary>
    public int Messages { get; private set; }

    /// <summary>Nothing queued: no message (not even one of no bytes) and no command.</summary>
    public bool IsEmpty => _units.Count == 0;

    /// <summary>Bytes not yet written.</summary>
    public int Bytes => _end - _start;

    /// <summary>The bytes <paramref name="frames"/> take on the wire.</summary>
    public static long SizeOf(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        long size = 0;
        for (var i = 0; i < frames.Length; i++)
        {
            size += ZmtpWire.HeaderSize(frames[i].Length) + frames[i].Length;
        }

        return size;
    }

    /// <summary>Queues a message of <paramref name="frames"/>.</summary>
    public void Enqueue(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        var size = SizeOf(frames);

        var into = Reserve(size);
        var at = 0;
        for (var i = 0; i < frames.Length; i++)
        {
            var frame = frames[i].Span;
            at += ZmtpWire.WriteHeader(into[at..], frame.Length, i < frames.Length - 1 ? ZmtpWire.More : (byte)0);
            frame.CopyTo(into[at..]);
            at += frame.Length;
        }

        _end += at;
        _units.Enqueue(at);
        Messages++;
    }

    /// <summary>
    /// Queues what is left of a message of <paramref name="frames"/> whose first <paramref name="written"/> bytes the
    /// connection already took straight from them (<see cref="Tcp.SendGathered"/>), nothing being queued before it: it
    /// counts as a message half written.
    /// </summary>
    public void EnqueueRest(ReadOnlySpan<ReadOnlyMemory<byte>> frames, long written)
    {
        if (!IsEmpty)
        {
            throw new InvalidOperationException("A message sent straight from its frames must have nothing queued before it.");
        }

        var size = SizeOf(frames);
        var into = Reserve(size - written);
        var at = 0;
        Span<byte> header = stackalloc byte[9];
        for (var i = 0; i < frames.Length; i++)
        {
            var length = ZmtpWire.WriteHeader(header, frames[i].Length, i < frames.Length - 1 ? ZmtpWire.More : (byte)0);
            at += CopyPast(header[..length], into[at..], ref written);
            at += CopyPast(frames[i].Span, into[at..], ref written);
        }

        _end += at;
        _units.Enqueue((int)size);
        _headWritten = (int)(size - at);
        Messages++;
    }

    /// <summary>Copies what of <paramref name="from"/> lies past the <paramref name="skip"/> bytes still to skip; how much.</summary>
    private static int CopyPast(ReadOnlySpan<byte> from, Span<byte> into, ref long skip)
    {
        var skipped = (int)Math.Min(skip, from.Length);
        skip -= skipped;
        from[skipped..].CopyTo(into);
        return from.Length - skipped;
    }

    /// <summary>Queues a whole command frame (a PONG, a PING) between messages.</summary>
    public void EnqueueCommand(ReadOnlySpan<byte> frame)
    {
        frame.CopyTo(Reserve(frame.Length));
        _end += frame.Length;
        _units.Enqueue(-frame.Length);
    }

    /// <summary>Writes what it can to <paramref name="fd"/>: 0 with everything written or the kernel's buffer full, or -errno.</summary>
    public int WriteTo(int fd)
    {
        while (_end > _start)
        {
            var sent = Tcp.Send(fd, Pending);
            if (sent <= 0)
            {
                return sent;
            }

            Written(sent);
        }

        return 0;
    }

    /// <summary>The bytes not yet written, in order.</summary>
    internal ReadOnlySpan<byte> Pending => _buffer.AsSpan(_start, _end - _start);

    /// <summary>The connection ended: a message half written goes, as do commands meant for it; whole messages stay.</summary>
    public void ConnectionEnded()
    {
        var kept = new List<int>(_units.Count);
        var from = _start;
        var keptStart = -1;
        var first = true;
        var write = _start;
        while (_units.TryDequeue(out var unit))
        {
            var size = Math.Abs(unit);
            var begin = first ? _start - _headWritten : from;
            var isPartial = first && _headWritten > 0;
            from = begin + size;
            first = false;
            if (unit < 0 || isPartial)
            {
                continue; // a command, or a message the old connection saw part of
            }

            // Whole and unwritten: moved down over what was dropped before it.
            if (keptStart < 0)
            {
                keptStart = write;
            }

            _buffer.AsSpan(begin, size).CopyTo(_buffer.AsSpan(write));
            write += size;
            kept.Add(unit);
        }

        _start = keptStart < 0 ? 0 : keptStart;
        _end = keptStart < 0 ? 0 : write;
        _headWritten = 0;
        Messages = kept.Count;
        foreach (var unit in kept)
        {
            _units.Enqueue(unit);
        }

        Emptied();
    }

    /// <summary>Everything dropped (the socket closes).</summary>
    public void Clear()
    {
        _units.Clear();
        _start = _end = _headWritten = 0;
        Messages = 0;
        Emptied();
    }

    /// <summary>The first <paramref name="sent"/> bytes of <see cref="Pending"/> were written.</summary>
    internal void Written(int sent)
    {
        _start += sent;
        _headWritten += sent;
        while (_units.TryPeek(out var unit) && _headWritten >= Math.Abs(unit))
        {
            _headWritten -= Math.Abs(unit);
            _units.Dequeue();
            if (unit > 0)
            {
                Messages--;
            }
        }

        Emptied();
    }

    private void Emptied()
    {
        if (_start != _end)
        {
            return;
        }

        _start = _end = 0;
        if (_buffer.Length > RetainedSize)
        {
            _buffer = new byte[InitialSize];
        }
    }

    private Span<byte> Reserve(long size)
    {
        if (_buffer.Length - _end >= size)
        {
            return _buffer.AsSpan(_end);
        }

        var pending = _end - _start;
        var needed = pending + size;
        if (needed > Array.MaxLength)
        {
            throw new InvalidOperationException($"More than {Array.MaxLength} bytes waiting to be written on one connection.");
        }

        var target = _buffer.Length >= needed ? _buffer : new byte[Math.Max(needed, Math.Min(2L * _buffer.Length, Array.MaxLength))];
        _buffer.AsSpan(_start, pending).CopyTo(target);
        _buffer = target;
        _start = 0;
        _end = pending;
        return _buffer.AsSpan(_end);
    }
}
