using HdrHistogram;

namespace Courier.Cli.Bench;

/// <summary>
/// The results of the request loops that ran on one thread; written only by that thread, read at the end (and by
/// the progress line while it runs: a torn read of the count is harmless).
/// </summary>
internal sealed class LatencyRecorder
{
    // In chunks below the large-object heap's threshold: a thread records ~10^6 figures, and growing one array
    // would copy megabytes on the thread that completes requests.
    private const int ChunkSize = 16 * 1024;
    private readonly List<int[]> _chunks = [];
    private int[] _current = [];
    private int _used;
    private long _count;

    public BenchErrors Errors { get; } = new();

    /// <summary>Requests answered so far.</summary>
    public long Count => Volatile.Read(ref _count);

    public void Record(int micros)
    {
        if (_used == _current.Length)
        {
            _current = new int[ChunkSize];
            _chunks.Add(_current);
            _used = 0;
        }

        _current[_used++] = micros;
        Volatile.Write(ref _count, _count + 1);
    }

    public void CopyTo(LongHistogram histogram)
    {
        foreach (var chunk in _chunks)
        {
            var used = ReferenceEquals(chunk, _current) ? _used : chunk.Length;
            for (var i = 0; i < used; i++)
            {
                histogram.RecordValue(chunk[i]);
            }
        }
    }
}
