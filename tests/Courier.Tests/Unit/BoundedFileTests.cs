using Courier.Security.Internal;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Unit;

/// <summary>
/// A security file is judged by what was opened, not by what the path named a moment before: a check of the path
/// followed by an open of the path let a named pipe swapped in between block the reader (at a re-read, a broker's loop)
/// until something wrote to the pipe.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BoundedFileTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("courier-bounded-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_directory_or_a_device_is_refused_unread()
    {
        Assert.Throws<FileNotFoundException>(() => BoundedFile.ReadText(_root, 1024, "a policy"));
        var device = Assert.Throws<InvalidDataException>(() => BoundedFile.ReadText("/dev/zero", 1024, "a policy"));
        Assert.Contains("0 bytes: not a policy", device.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_path_swapped_between_a_file_and_a_named_pipe_never_blocks_the_reader()
    {
        // Elsewhere the path is still checked before it is opened (BoundedFile), and this would block.
        Skip.IfNot(OperatingSystem.IsLinux(), "judged as opened on Linux only");
        var file = Path.Combine(_root, "file.json");
        var pipe = Path.Combine(_root, "pipe.json");
        var path = Path.Combine(_root, "policy.json");
        File.WriteAllText(file, "{\"a\": 1}");
        await NamedPipe.CreateAsync(pipe);

        File.CreateSymbolicLink(path, file);
        using var stop = new CancellationTokenSource();
        // The link is replaced, never missing: a fresh link renamed over it, to the file and to the pipe in turn.
        var swapping = Task.Factory.StartNew(() =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var next = Path.Combine(_root, "next.json");
                File.CreateSymbolicLink(next, i % 2 == 0 ? pipe : file);
                File.Move(next, path, overwrite: true);
            }
        }, TaskCreationOptions.LongRunning);

        var reads = 0;
        var refused = 0;
        var reading = Task.Factory.StartNew(() =>
        {
            for (var until = DateTime.UtcNow + TimeSpan.FromSeconds(3); DateTime.UtcNow < until; reads++)
            {
                try
                {
                    Assert.Equal("{\"a\": 1}", BoundedFile.ReadText(path, 1024, "a policy"));
                }
                catch (InvalidDataException)
                {
                    refused++; // the pipe: empty, refused unread
                }
                catch (FileNotFoundException)
                {
                }
            }
        }, TaskCreationOptions.LongRunning);

        try
        {
            var finished = await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(30))) == reading;
            Assert.True(finished, $"the reader blocked after {reads} reads ({refused} refused): it opened the pipe it had judged a file");
            await reading;
            Assert.True(refused > 0 && refused < reads, $"{refused} of {reads} refused: the swap did not interleave with the reads");
        }
        finally
        {
            await stop.CancelAsync();
            await swapping;
            // A reader blocked in open(2) on the pipe returns once a writer opens it.
            if (!reading.IsCompleted)
            {
                await using (new FileStream(pipe, FileMode.Open, FileAccess.Write))
                {
                }

                await reading.ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
