namespace Courier.Transport.Internal.Zmtp;

/// <summary>What <see cref="ZmtpInbound.TryTake"/> found at the front of what was read.</summary>
internal enum Inbound
{
    /// <summary>Not a whole unit yet: read more (<see cref="ZmtpInbound.FreeSpace"/>).</summary>
    NeedMore,

    /// <summary>A whole message, copied into the caller's <see cref="MessageFrames"/>.</summary>
    Message,

    /// <summary>A command frame (<see cref="ZmtpInbound.CommandBody"/>), valid until the next call.</summary>
    Command,

    /// <summary>A message of more frames than allowed, read past and let go (<see cref="ZmtpInbound.DroppedFrames"/>).</summary>
    Dropped,

    /// <summary>The peer broke the protocol or a limit (<see cref="ZmtpInbound.Problem"/>): the connection must end.</summary>
    Violation,
}

/// <summary>
/// The bytes a connection has read and not yet handed on, and the reading of frames out of them. A message is handed on
/// only when all of it is here, as libzmq does; a frame over <c>maxFrameSize</c> ends the connection (libzmq's
/// ZMQ_MAXMSGSIZE), and a message past <c>maxFrames</c> is skipped frame by frame as it arrives, none of it kept. Loop
/// thread only.
/// </summary>
internal sealed class ZmtpInbound(long maxFrameSize, int maxFrames) : IDisposable
{
    private const int InitialSize = 64 * 1024;

    // A buffer grown for large messages is kept up to this (they tend to come in runs: one array per message would be a
    // large-object allocation each); past it, it goes once empty.
    private const int RetainedSize = 4 * 1024 * 1024;

    // Commands carry a few properties or a ping's context: a larger one is a peer trying to make this side hold memory.
    private const int MaxCommandSize = 8 * 1024;

    /// <summary>
    /// A message's last frame this large, not all read yet, is read on straight into its own pooled array: its bytes are
    /// copied once (from the kernel), not twice (into the buffer, then out of it), and the buffer does not grow for it.
    /// </summary>
    internal const int DirectMinimum = InitialSize;

    private byte[] _buffer = new byte[InitialSize];
    private int _start;
    private int _end;

    // Skipping a message past the frame limit: what is left of the current frame, and whether it is the message's last.
    private bool _dropping;
    private long _skip;
    private bool _skipIsLast;
    private int _command;
    private int _commandLength;

    // The last frame being read into its own array: the message's frames before it, and its header, end the buffer.
    private PooledFrame? _direct;
    private int _directFilled;

    /// <summary>Why the last <see cref="Inbound.Violation"/>.</summary>
    public string Problem { get; private set; } = "";

    /// <summary>The frames of the last <see cref="Inbound.Dropped"/> message.</summary>
    public int DroppedFrames { get; private set; }

    /// <summary>The body of the last <see cref="Inbound.Command"/>.</summary>
    public ReadOnlySpan<byte> CommandBody => _buffer.AsSpan(_command, _commandLength);

    /// <summary>Bytes read and not yet taken.</summary>
    public int Buffered => _end - _start + _directFilled;

    /// <summary>
    /// Where the next read goes: never empty (the buffer is compacted or grown to make room). While a large last frame is
    /// read into its own array (<see cref="DirectMinimum"/>), the rest of that frame and no more.
    /// </summary>
    public Span<byte> FreeSpace
    {
        get
        {
            if (_direct is not null)
            {
                return _direct.GetSpan()[_directFilled..];
            }

            if (_end == _buffer.Length)
            {
                MakeRoom(1);
            }

            return _buffer.AsSpan(_end);
        }
    }

    /// <summary>Bytes written into <see cref="FreeSpace"/> by a read.</summary>
    public void Advance(int read)
    {
        if (_direct is not null)
        {
            _directFilled += read;
        }
        else
        {
            _end += read;
        }
    }

    /// <summary>Takes <paramref name="count"/> raw bytes (the greeting) when they are all here.</summary>
    public bool TryTakeRaw(int count, out ReadOnlySpan<byte> bytes)
    {
        if (_end - _start < count)
        {
            bytes = default;
            return false;
        }

        bytes = _buffer.AsSpan(_start, count);
        _start += count;
        return true;
    }

    /// <summary>Everything read so far let go (the connection ended): the next connection starts clean.</summary>
    public void Reset()
    {
        _start = _end = 0;
        _dropping = false;
        ReleaseDirect();
        if (_buffer.Length > InitialSize)
        {
            _buffer = new byte[InitialSize];
        }
    }

    /// <summary>A large frame being read into its own array goes back to the pool.</summary>
    public void Dispose() => ReleaseDirect();

    private void ReleaseDirect()
    {
        ((IDisposable?)_direct)?.Dispose();
        _direct = null;
        _directFilled = 0;
    }

    /// <summary>The next whole unit read, if there is one.</summary>
    public Inbound TryTake(MessageFrames message)
    {
        if (_dropping)
        {
            return Skip();
        }

        if (_direct is not null)
        {
            return _directFilled < _direct.Memory.Length ? Inbound.NeedMore : HandOn(message, _end, _direct);
        }

        var position = _start;
        var frames = 0;
        while (true)
        {
            if (!ZmtpWire.TryReadHeader(_buffer.AsSpan(position, _end - position), out var flags, out var length, out var header))
            {
                return NeedMore(position - _start + 9);
            }

            if ((flags & ZmtpWire.Command) != 0)
            {
                if (frames > 0)
                {
                    return Violate("a command frame inside a message");
                }

                if (length < 0 || length > MaxCommandSize)
                {
                    return Violate($"a command of {length} bytes");
                }

                if (_end - position - header < length)
                {
                    return NeedMore(header + (int)length);
                }

                _command = position + header;
                _commandLength = (int)length;
                _start = _command + _commandLength;
                return Inbound.Command;
            }

            if (length < 0 || length > maxFrameSize)
            {
                return Violate($"a frame of {length} bytes, over the {maxFrameSize} allowed (TransportOptions.MaxFrameSize)");
            }

            frames++;
            var more = (flags & ZmtpWire.More) != 0;
            if (more && frames >= maxFrames)
            {
                // Past the limit: what is here of this message goes now, the rest as it comes.
                _dropping = true;
                DroppedFrames = frames;
                _skip = length;
                _skipIsLast = false;
                _start = position + header;
                return Skip();
            }

            if (!more && length >= DirectMinimum && length <= Array.MaxLength && _end - position - header < length)
            {
                // What is here of it goes into its own array now, the rest straight there as it is read.
                _direct = new PooledFrame((int)length);
                _directFilled = _end - position - header;
                _buffer.AsSpan(position + header, _directFilled).CopyTo(_direct.GetSpan());
                _end = position + header;
                return Inbound.NeedMore;
            }

            if (_end - position - header < length)
            {
                var needed = (long)position - _start + header + length;
                if (needed > Array.MaxLength)
                {
                    return Violate($"a message of more than {Array.MaxLength} bytes");
                }

                return NeedMore((int)needed);
            }

            position += header + (int)length;
            if (!more)
            {
                break;
            }
        }

        return HandOn(message, position, null);
    }

    /// <summary>
    /// All of a message is here, up to <paramref name="position"/> in the buffer, and its last frame in
    /// <paramref name="direct"/> when it was read there (its header then ends the buffer): hand it on, frame by frame.
    /// </summary>
    private Inbound HandOn(MessageFrames message, int position, PooledFrame? direct)
    {
        message.Clear();
        while (_start < position)
        {
            ZmtpWire.TryReadHeader(_buffer.AsSpan(_start, position - _start), out _, out var length, out var header);
            if (direct is not null && _start + header == position)
            {
                message.AppendOwned(direct);
                _direct = null;
                _directFilled = 0;
                _start = position;
                break;
            }

            var frame = _buffer.AsSpan(_start + header, (int)length);
            if (frame.Length >= PooledFrame.Minimum)
            {
                message.AppendOwned(new PooledFrame(frame));
            }
            else
            {
                message.Append(frame);
            }

            _start += header + (int)length;
        }

        Compact();
        return Inbound.Message;
    }

    /// <summary>Skips the rest of a message past the frame limit, frame by frame.</summary>
    private Inbound Skip()
    {
        while (true)
        {
            var skipped = (int)Math.Min(_skip, _end - _start);
            _start += skipped;
            _skip -= skipped;
            if (_skip > 0)
            {
                Compact();
                return Inbound.NeedMore;
            }

            if (_skipIsLast)
            {
                _dropping = false;
                Compact();
                return Inbound.Dropped;
            }

            if (!ZmtpWire.TryReadHeader(_buffer.AsSpan(_start, _end - _start), out var flags, out var length, out var header))
            {
                Compact();
                return Inbound.NeedMore;
            }

            if ((flags & ZmtpWire.Command) != 0)
            {
                return Violate("a command frame inside a message");
            }

            if (length < 0 || length > maxFrameSize)
            {
                return Violate($"a frame of {length} bytes, over the {maxFrameSize} allowed (TransportOptions.MaxFrameSize)");
            }

            DroppedFrames++;
            _start += header;
            _skip = length;
            _skipIsLast = (flags & ZmtpWire.More) == 0;
        }
    }

    private Inbound Violate(string problem)
    {
        Problem = problem;
        return Inbound.Violation;
    }

    /// <summary>Not all here: room is made for <paramref name="unit"/> bytes from <see cref="_start"/> before more is read.</summary>
    private Inbound NeedMore(int unit)
    {
        MakeRoom(unit);
        return Inbound.NeedMore;
    }

    private void MakeRoom(int unit)
    {
        if (_buffer.Length - _start >= unit && _end < _buffer.Length)
        {
            return;
        }

        if (_start > 0)
        {
            Compact(force: true);
        }

        if (_buffer.Length < unit || _end == _buffer.Length)
        {
            var grown = new byte[Math.Max(unit, (int)Math.Min(2L * _buffer.Length, Array.MaxLength))];
            _buffer.AsSpan(0, _end).CopyTo(grown);
            _buffer = grown;
        }
    }

    /// <summary>Moves what is left to the front once past half the buffer; a buffer grown past <see cref="RetainedSize"/> goes once empty.</summary>
    private void Compact(bool force = false)
    {
        if (_start == _end)
        {
            _start = _end = 0;
            if (_buffer.Length > RetainedSize)
            {
                _buffer = new byte[InitialSize];
            }

            return;
        }

        if (_buffer.Length > RetainedSize && _end - _start <= InitialSize / 2)
        {
            // A buffer grown for a large message, now holding only the start of the next unit: a peer that always leaves a
            // byte behind must not keep it for the connection's life.
            var smaller = new byte[InitialSize];
            _buffer.AsSpan(_start, _end - _start).CopyTo(smaller);
            _end -= _start;
            _start = 0;
            _buffer = smaller;
            return;
        }

        if (force || _start > _buffer.Length / 2)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
    }
}
