using Courier.Fuzz;

// courier-fuzz TARGET            afl++ drives this (run.sh): one input per run, from stdin, instrumented by SharpFuzz
// courier-fuzz TARGET FILE...    replays inputs (a crash found by afl, a corpus) and says which fails
// courier-fuzz seeds DIR         writes the seed corpus, made by Courier's own encoders and writers, under DIR/TARGET/
if (args.Length == 2 && args[0] == "seeds")
{
    Seeds.Write(args[1]);
    return 0;
}

if (args.Length < 1)
{
    await Console.Error.WriteLineAsync($"usage: courier-fuzz TARGET [FILE...] | courier-fuzz seeds DIR; targets: {string.Join(", ", FuzzTarget.All.Select(t => t.Name))}");
    return 2;
}

var target = FuzzTarget.Named(args[0]);
if (args.Length == 1)
{
    SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        target.Run(buffer.ToArray());
    });
    return 0;
}

var failed = 0;
foreach (var file in args.Skip(1))
{
    try
    {
        target.Run(File.ReadAllBytes(file));
    }
#pragma warning disable CA1031 // A replay reports every failing input, not only the first.
    catch (Exception ex)
#pragma warning restore CA1031
    {
        failed++;
        await Console.Error.WriteLineAsync($"{file}: {ex}");
    }
}

Console.WriteLine($"{args.Length - 1 - failed} passed, {failed} failed");
return failed == 0 ? 0 : 1;
