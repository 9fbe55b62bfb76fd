// The error contract (tests/error_contract.json; format in docs/design.md, "Error contract") through
// include/polkavm_ffi.hpp, face "cpp": every case throws pvm::Error with the file's kind and message.
#include "polkavm_ffi.hpp"

#include <json-c/json.h>

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

static_assert(static_cast<uint32_t>(pvm::ErrorKind::InvalidArgument) == PVM_ERROR_INVALID_ARGUMENT);
static_assert(static_cast<uint32_t>(pvm::ErrorKind::HostAborted) == PVM_ERROR_HOST_ABORTED);

const std::map<pvm::ErrorKind, std::string> kind_names = {
    {pvm::ErrorKind::InvalidArgument, "InvalidArgument"}, {pvm::ErrorKind::InvalidProgram, "InvalidProgram"},
    {pvm::ErrorKind::Unsupported, "Unsupported"},         {pvm::ErrorKind::Setup, "Setup"},
    {pvm::ErrorKind::Memory, "Memory"},                   {pvm::ErrorKind::WrongState, "WrongState"},
    {pvm::ErrorKind::Panic, "Panic"},                     {pvm::ErrorKind::HostAborted, "HostAborted"},
};

std::vector<uint8_t> program() {
    std::ifstream file(PVM_TEST_PROGRAM, std::ios::binary);
    if (!file) throw std::runtime_error(PVM_TEST_PROGRAM " is missing: run `make programs`");
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), {});
}

pvm::Engine interpreter(bool allow_dynamic_paging = false) {
    return pvm::Engine(pvm::EngineConfig().backend(pvm::Backend::Interpreter).allow_dynamic_paging(allow_dynamic_paging));
}

struct Fixture {
    pvm::Engine engine = interpreter();
    std::vector<uint8_t> blob = program();
    pvm::Module module{engine, blob};
    pvm::Instance instance{engine, module};
};

/* The face's code for each case of the file, by the case's name. */
const std::map<std::string, std::function<void(Fixture &)>> cases = {
    {"run_without_call", [](Fixture &f) { f.instance.run(); }},
    {"register_out_of_range", [](Fixture &f) { f.instance.reg(static_cast<pvm::Reg>(13)); }},
    {"bad_blob", [](Fixture &f) { pvm::Module(f.engine, std::vector<uint8_t>{'N', 'O', 'T', ' ', 'A', ' ', 'P', 'R', 'O', 'G', 'R', 'A', 'M'}); }},
    {"empty_blob", [](Fixture &f) { pvm::Module(f.engine, std::vector<uint8_t>{}); }},
    {"no_such_export", [](Fixture &f) { f.module.export_pc("missing"); }},
    {"too_many_arguments", [](Fixture &f) {
         std::vector<uint64_t> args(10, 0);
         f.instance.prepare_call(f.module.export_pc("add"), args.data(), args.size());
     }},
    {"bad_page_size", [](Fixture &f) { pvm::Module(f.engine, f.blob, pvm::ModuleConfig().page_size(1000)); }},
    {"unmapped_memory", [](Fixture &f) { f.instance.read_memory(0, 4); }},
    {"dynamic_paging_not_allowed", [](Fixture &f) { pvm::Module(f.engine, f.blob, pvm::ModuleConfig().dynamic_paging(true)); }},
    {"heap_size_under_dynamic_paging", [](Fixture &f) {
         pvm::Engine engine = interpreter(true);
         pvm::Module module(engine, f.blob, pvm::ModuleConfig().dynamic_paging(true));
         pvm::Instance(engine, module).heap_size();
     }},
    {"map_pages_without_dynamic_paging", [](Fixture &f) { f.instance.map_pages(0x10000, 4096, true); }},
    {"handler_failure", [](Fixture &f) {
         f.instance.call("host", {1}, 10000, [](pvm::Instance &, uint32_t) { throw std::runtime_error("boom"); });
     }},
};

struct Case {
    std::string name, kind, message;
};

/* The cases of the file for this face: those without only_in, or whose only_in lists "cpp". */
std::vector<Case> contract_cases() {
    json_object *root = json_object_from_file(PVM_ERROR_CONTRACT);
    if (root == nullptr) throw std::runtime_error(PVM_ERROR_CONTRACT " is missing or not JSON");
    std::vector<Case> found;
    json_object_object_foreach(json_object_object_get(root, "cases"), name, body) {
        json_object *only_in = json_object_object_get(body, "only_in");
        bool applies = only_in == nullptr;
        for (size_t i = 0; only_in != nullptr && i < json_object_array_length(only_in); i++)
            applies |= std::string(json_object_get_string(json_object_array_get_idx(only_in, i))) == "cpp";
        if (applies)
            found.push_back({name, json_object_get_string(json_object_object_get(body, "kind")),
                             json_object_get_string(json_object_object_get(body, "message"))});
    }
    json_object_put(root);
    return found;
}

TEST(ErrorContract, EveryCaseThrowsTheFilesKindAndMessage) {
    std::vector<Case> contract = contract_cases();
    ASSERT_FALSE(contract.empty());
    for (const Case &expected : contract) {
        SCOPED_TRACE(expected.name);
        auto code = cases.find(expected.name);
        ASSERT_NE(code, cases.end()) << "the C++ face does not run case " << expected.name;
        Fixture fixture;
        try {
            code->second(fixture);
            ADD_FAILURE() << "no exception";
        } catch (const pvm::Error &error) {
            EXPECT_EQ(kind_names.at(error.kind()), expected.kind);
            EXPECT_EQ(std::string(error.what()), expected.message);
        }
    }
}

TEST(ErrorContract, TheFaceRunsNoCaseTheFileLacks) {
    std::vector<Case> contract = contract_cases();
    for (const auto &entry : cases) {
        bool listed = false;
        for (const Case &expected : contract) listed |= expected.name == entry.first;
        EXPECT_TRUE(listed) << entry.first << " is not a case of tests/error_contract.json for cpp";
    }
}

}  // namespace
