namespace Courier.Security.Internal;

/// <summary>
/// The public certificates (<c>*.key</c>) in a directory: the CURVE keys a listener admits, each known by its file's
/// name without <c>.key</c>. Re-read when the directory's files change (checked at most every <see cref="CheckInterval"/>,
/// or less often when a check costs more), so adding or removing a certificate takes effect without a restart.
/// Thread-safe: a lookup reads an immutable snapshot, and never waits for the directory while it is in use.
/// </summary>
internal sealed class AllowList
{
    internal static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(CheckIntervalMs);
    private readonly string _directory;
    private readonly Action<string>? _onBadFile;
    private readonly Action<string>? _onUnreadable;
    private readonly Action<string>? _onShortage;
    private readonly Lock _gate = new();
    private volatile Snapshot _current;
    private const long CheckIntervalMs = 250;

    // When the snapshot in force was last checked against the directory, the time between checks (CheckInterval, more
    // for a directory that costs more to check), and whether a check runs on a pool thread now.
    private long _checkedAt;
    private long _gapMs = CheckIntervalMs;
    private int _refreshing;

    // Whether the last check met a shortage of descriptors or memory (said once until a check succeeds).
    private bool _short;

    private static readonly Snapshot Unreadable = new("(unreadable)", []);

    /// <summary>The largest certificate file read (czmq's are a few hundred bytes; metadata makes them longer).</summary>
    internal const int MaxCertificateBytes = 64 * 1024;

    private static readonly string Refusal = $"a certificate (one is a few hundred bytes, at most {MaxCertificateBytes})";

    // The stamps of the files reported bad at the last read: not reported again while they stay as they are.
    private HashSet<string> _reported = new(StringComparer.Ordinal);

    private sealed record Snapshot(string Signature, Dictionary<string, string> NameByKey);

    /// <summary>
    /// Reads the directory; throws <see cref="DirectoryNotFoundException"/> when it is not there. Later, a file that
    /// does not parse goes to <paramref name="onBadFile"/> (that file admits no one), and a directory gone or unreadable
    /// to <paramref name="onUnreadable"/>, once until it is back (no one is admitted meanwhile). A check that finds the
    /// process out of descriptors or memory goes to <paramref name="onShortage"/>, once until one succeeds, and keeps the
    /// keys in force.
    /// </summary>
    public AllowList(string directory, Action<string>? onBadFile = null, Action<string>? onUnreadable = null, Action<string>? onShortage = null)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The allow-list directory '{directory}' does not exist.");
        }

        _directory = directory;
        _onBadFile = onBadFile;
        _onUnreadable = onUnreadable;
        _onShortage = onShortage;
        _current = Read(Signature());
        _checkedAt = Environment.TickCount64;
    }

    /// <summary>How many keys are admitted now.</summary>
    public int Count => Current.NameByKey.Count;

    /// <summary>The certificate name of an admitted Z85 key, or null when the key is not admitted.</summary>
    public string? NameOf(string publicKey) => Current.NameByKey.GetValueOrDefault(publicKey);

    private Snapshot Current
    {
        get
        {
            var age = Environment.TickCount64 - Volatile.Read(ref _checkedAt);
            var gap = Volatile.Read(ref _gapMs);
            if (age < gap)
            {
                return _current;
            }

            if (age < 2 * gap)
            {
                // In use and due: checked on a pool thread, and meanwhile the snapshot checked at most two gaps ago
                // holds. A lookup never waits for the directory (a large one stalled a broker's loop, or the ZAP thread
                // that admits every listener's handshakes, for each check).
                if (Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(static self => self.RefreshInBackground(), this, preferLocal: false);
                }

                return _current;
            }

            // Not looked at for two gaps (a quiet listener): checked now, so that a certificate removed meanwhile is never
            // admitted by an old snapshot.
            Refresh();
            return _current;
        }
    }

    /// <summary>Runs before each read of the certificates, on the thread that reads them (tests hold a read with it).</summary>
    internal Action? BeforeRead { get; set; }

    private void RefreshInBackground()
    {
        try
        {
            Refresh();
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private void Refresh()
    {
        lock (_gate)
        {
            if (Environment.TickCount64 - _checkedAt < _gapMs)
            {
                return; // checked by another thread meanwhile
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                var signature = Signature();
                if (signature != _current.Signature)
                {
                    _current = Read(signature);
                }

                _short = false;
            }
            catch (Exception ex) when (ResourceShortage.Is(ex))
            {
                // Out of descriptors or memory: nothing is known of the directory, so the keys in force stay in force
                // (admitting no one would cut every registered worker), and it is read again at the next check.
                if (!_short)
                {
                    _short = true;
                    _onShortage?.Invoke($"{_directory}: {ex.Message}");
                }

                Volatile.Write(ref _checkedAt, Environment.TickCount64);
                return;
            }
#pragma warning disable CA1031 // on a pool thread, anything unforeseen would end the process: it admits no one instead, and is said
            catch (Exception ex)
#pragma warning restore CA1031
            {
                // The directory is gone or unreadable: admit no one until it is back (a deleted allow-list must not
                // leave its keys in force), and say so once, not at every check.
                if (!ReferenceEquals(_current, Unreadable))
                {
                    _current = Unreadable;
                    _onUnreadable?.Invoke($"{_directory}: {ex.Message}");
                }
            }

            // A directory whose check costs more is checked less often: at most a twentieth of one core's time.
            var cost = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Volatile.Write(ref _gapMs, Math.Max(CheckIntervalMs, (long)(cost * 20)));
            Volatile.Write(ref _checkedAt, Environment.TickCount64);
        }
    }

    /// <summary>What a check costs: every certificate's name and <see cref="FileStamp"/>, in name order (internal for the benchmarks).</summary>
    internal string Signature()
    {
        var files = new DirectoryInfo(_directory).GetFiles("*.key");
        Array.Sort(files, (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return string.Join('\n', files.Select(f => $"{f.Name}\t{FileStamp.Of(f)}"));
    }

    private Snapshot Read(string signature)
    {
        BeforeRead?.Invoke();
        var nameByKey = new Dictionary<string, string>(StringComparer.Ordinal);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var paths = Directory.GetFiles(_directory, "*.key");
        Array.Sort(paths, StringComparer.Ordinal); // the same names for the same files, whatever order the directory lists
        foreach (var path in paths)
        {
            var stamp = FileStamp.Of(new FileInfo(path));
            try
            {
                var certificate = CertificateFile.Parse(BoundedFile.ReadText(path, MaxCertificateBytes, Refusal), path);
                var name = Path.GetFileNameWithoutExtension(path);
                if (!nameByKey.TryAdd(certificate.PublicKey, name))
                {
                    throw new InvalidDataException($"{path}: the same public key as {nameByKey[certificate.PublicKey]}.key, which names it");
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException && !ResourceShortage.Is(ex))
            {
                // One bad file admits nobody, and keeps no one else out; said once while it stays as it is, not at every
                // re-read that another file's change makes.
                reported.Add(stamp);
                if (!_reported.Contains(stamp))
                {
                    _onBadFile?.Invoke(ex.Message);
                }
            }
        }

        _reported = reported;
        return new Snapshot(signature, nameByKey);
    }
}
