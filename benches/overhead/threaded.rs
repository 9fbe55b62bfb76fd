//! Runs a layer on a thread of its own. polkavm pins a thread to a core for the first JIT engine
//! that runs instances on it and disables pinning for any other engine used on that thread (its
//! "multiple engines on the same thread" warning); with one engine per layer, sharing a thread
//! would measure that penalty instead of the layer. One thread per layer gives every layer what
//! a program with one engine gets.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

use crate::layers::{Layer, Scenario};

pub struct Threaded {
    name: String,
    requests: Option<Sender<(Scenario, u64)>>,
    results: Receiver<f64>,
    thread: Option<JoinHandle<()>>,
}

impl Threaded {
    pub fn new(build: impl FnOnce() -> Box<dyn Layer> + Send + 'static) -> Threaded {
        let (request_sender, requests) = channel::<(Scenario, u64)>();
        let (result_sender, results) = channel::<f64>();
        let (name_sender, name) = channel::<String>();
        let thread = std::thread::spawn(move || {
            let mut layer = build();
            name_sender.send(layer.name()).unwrap();
            for (scenario, n) in requests {
                result_sender.send(layer.run(scenario, n)).unwrap();
            }
        });
        let name = name.recv().expect("the layer failed to start");
        Threaded { name, requests: Some(request_sender), results, thread: Some(thread) }
    }
}

impl Layer for Threaded {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn run(&mut self, scenario: Scenario, n: u64) -> f64 {
        self.requests.as_ref().unwrap().send((scenario, n)).unwrap();
        self.results.recv().expect("the layer's thread failed")
    }
}

impl Drop for Threaded {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
